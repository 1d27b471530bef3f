// The JavaScript examples of Transcodely's Job object document, run as written against Recast.
//
// The examples call `client.jobs.*` of Transcodely's JavaScript SDK, which is not on npm; `client` here
// is a stand-in with the same surface, doing what that SDK's calls do over HTTP (a JSON POST per method,
// Watch read as the document's newline-delimited JSON), so the examples' own code — the destructuring,
// the loop over the stream and its `break` — runs unchanged. The only edit to the examples is the job
// ID, which must be a job this server has: JOB_ID from the test replaces "job_a1b2c3d4e5f6".
//
// usage: node transcodely_examples.mjs BASE_URL API_KEY ORG_ID EXAMPLE [JOB_ID]
// prints one JSON line: what the example produced (and its console.log lines).

const [baseUrl, apiKey, orgId, example, jobId] = process.argv.slice(2);

class TranscodelyError extends Error {
  constructor(status, body) {
    super(body.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body.code;
  }
}

async function call(method, request) {
  const resp = await fetch(`${baseUrl}/transcodely.v1.JobService/${method}`, {
    method: "POST",
    headers: {
      Authorization: `Bearer ${apiKey}`,
      "X-Organization-ID": orgId,
      "Content-Type": "application/json",
    },
    body: JSON.stringify(request),
  });
  return resp;
}

async function unary(method, request) {
  const resp = await call(method, request);
  const body = await resp.json();
  if (!resp.ok) throw new TranscodelyError(resp.status, body);
  return body;
}

async function* watch(request) {
  const resp = await call("Watch", request);
  if (!resp.ok) throw new TranscodelyError(resp.status, await resp.json());
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of resp.body) {
    buffered += decoder.decode(chunk, { stream: true });
    let newline;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (!line) continue;
      const message = JSON.parse(line);
      if (message.error) throw new TranscodelyError(200, message.error);
      yield message.result;
    }
  }
}

const client = {
  jobs: {
    create: (request) => unary("Create", request),
    get: (request) => unary("Get", request),
    list: (request) => unary("List", request),
    cancel: (request) => unary("Cancel", request),
    confirm: (request) => unary("Confirm", request),
    watch,
  },
};

const logged = [];
const console = { log: (line) => logged.push(line) };
const out = {};

const examples = {
  // ---- the document's examples, verbatim (but for the job ID) ----
  async create() {
    const { job } = await client.jobs.create({
      input_url: "gs://my-bucket/uploads/video.mp4",
      output_origin_id: "ori_x9y8z7w6v5",
      outputs: [
        {
          type: "mp4",
          video: [{ codec: "h264", resolution: "1080p", quality: "standard" }],
        },
      ],
      priority: "standard",
    });
    out.job = job;
  },
  async get() {
    const { job } = await client.jobs.get({ id: "job_a1b2c3d4e5f6" });
    out.job = job;
  },
  async list() {
    const { jobs, pagination } = await client.jobs.list({
      status: "processing",
      pagination: { limit: 20 },
    });
    out.jobs = jobs;
    out.pagination = pagination;
  },
  async cancel() {
    const { job } = await client.jobs.cancel({ id: "job_a1b2c3d4e5f6" });
    out.job = job;
  },
  async confirm() {
    const { job } = await client.jobs.confirm({ id: "job_a1b2c3d4e5f6" });
    out.job = job;
  },
  async watch() {
    for await (const event of client.jobs.watch({ id: "job_a1b2c3d4e5f6" })) {
      console.log(`${event.event}: ${event.job.progress}%`);
      if (event.event === "completed") break;
    }
  },
};

let source = examples[example].toString();
if (jobId) source = source.replaceAll("job_a1b2c3d4e5f6", jobId);
// The example's body, compiled with the job ID in place, then run with `client`, `console` and `out`.
const run = new Function("client", "console", "out", `return (${source.replace(/^async \w+\(\)/, "async function ()")})();`);
try {
  await run(client, console, out);
  process.stdout.write(JSON.stringify({ ok: true, ...out, logged }) + "\n");
} catch (err) {
  process.stdout.write(JSON.stringify({ ok: false, status: err.status, code: err.code, message: err.message }) + "\n");
}
