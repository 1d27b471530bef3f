"""`recast template …`: an organization's saved job templates (`/v1/templates`) from the command line,
through the SDK's `create_template`, `list_templates`, `get_template`, `update_template` and
`delete_template`.

    recast template create web -o preset:web -o mp3 --priority economy --lock outputs
    recast template update web --priority premium      (the latest version with this changed: version 2)
    recast template update web --replace -o mp4:h264  (exactly these fields, as PUT does)
    recast template list        recast template get web --version 1        recast template delete web

A job names one with `recast submit clip.mp4 --template web` or `recast batch submit … --template web`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from recast.client.cli import OUTPUT_FORMS, parse_clip, parse_metadata, parse_output
from recast.client.sync import Recast
from recast.core.templates import TEMPLATE_FIELDS, Template, TemplateBody

COMMAND = "template"


def parse_body(text: str) -> dict[str, Any]:
    """`--json`: a template's JSON as in `POST /v1/templates` (without `name`), or `@FILE` holding it."""
    try:
        raw = Path(text[1:]).read_text() if text.startswith("@") else text
        body = json.loads(raw)
    except (OSError, ValueError) as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: not a JSON object or @FILE ({exc})") from None
    if not isinstance(body, dict):
        raise argparse.ArgumentTypeError(f"{text!r}: expected a JSON object")
    return body


def add_fields(p: argparse.ArgumentParser) -> None:
    """The flags of the fields a template holds (create and update)."""
    p.add_argument("name")
    p.add_argument("-o", "--output", action="append", type=parse_output, metavar="OUTPUT",
                   help=f"{OUTPUT_FORMS} (repeat for more)")  # fmt: skip
    p.add_argument("--priority", choices=["economy", "standard", "premium"])
    p.add_argument("--metadata", action="append", type=parse_metadata, metavar="KEY=VALUE")
    p.add_argument("--clip", type=parse_clip, metavar="START:END")
    p.add_argument("--delayed-start", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--webhook-url")
    p.add_argument("--webhook-secret")
    p.add_argument("--output-path-template", metavar="TEMPLATE")
    p.add_argument("--description")
    p.add_argument("--lock", action="append", choices=TEMPLATE_FIELDS, metavar="FIELD",
                   help=f"a field jobs may not give: {', '.join(TEMPLATE_FIELDS)} (repeat for more)")  # fmt: skip
    p.add_argument("--json", type=parse_body, metavar="JSON|@FILE",
                   help="the template's JSON (as POST /v1/templates, without name); flags go over it")  # fmt: skip


def add_parser(sub: Any) -> None:
    """`recast template` and its commands, on the `recast` parser's subparsers."""
    p = sub.add_parser(COMMAND, help="saved job settings: create, list, get, update, delete")
    cmds = p.add_subparsers(dest="template_command", required=True)
    add_fields(cmds.add_parser("create", help="create a template (version 1)"))
    p_update = cmds.add_parser(
        "update", help="write the next version: the latest with the given flags changed"
    )
    add_fields(p_update)
    p_update.add_argument("--replace", action="store_true",
                          help="exactly the given fields, nothing kept from the latest version (as PUT)")  # fmt: skip
    cmds.add_parser("list", help="every template, at its latest version")
    p_get = cmds.add_parser("get", help="show a template as JSON")
    p_get.add_argument("name")
    p_get.add_argument("--version", type=int, help="that version (default: the latest)")
    cmds.add_parser("delete", help="retire a template (its versions stay readable)").add_argument("name")


def fields_of(args: argparse.Namespace) -> dict[str, Any]:
    """The template fields the flags give (None: not given)."""
    return {
        "outputs": args.output,
        "priority": args.priority,
        "metadata": dict(args.metadata) if args.metadata else None,
        "clip": args.clip,
        "delayed_start": args.delayed_start,
        "webhook_url": args.webhook_url,
        "webhook_secret": args.webhook_secret,
        "output_path_template": args.output_path_template,
        "description": args.description,
        "locked": args.lock,
    }


def summary(t: Template) -> str:
    locked = ",".join(t.locked) or "-"
    return f"{t.name:<24} v{t.version:<4} locked {locked:<24} {t.description or ''}".rstrip()


def run(client: Recast, args: argparse.Namespace) -> int:
    """One `recast template` command, through the SDK."""
    cmd = args.template_command
    if cmd == "list":
        templates = client.list_templates()
        for t in templates:
            print(summary(t))
        return 0
    if cmd == "get":
        print(client.get_template(args.name, args.version).model_dump_json(indent=2, exclude_none=True))
        return 0
    if cmd == "delete":
        client.delete_template(args.name)
        print(f"{args.name} deleted")
        return 0
    body: TemplateBody | dict[str, Any] | None = args.json
    if cmd == "update" and not args.replace:
        current = client.get_template(args.name)
        body = {
            **current.model_dump(mode="json", include=set(TemplateBody.model_fields)),
            **(args.json or {}),
        }
    if cmd == "create":
        template = client.create_template(args.name, body, **fields_of(args))
    else:
        template = client.update_template(args.name, body, **fields_of(args))
    print(template.model_dump_json(indent=2, exclude_none=True))
    return 0
