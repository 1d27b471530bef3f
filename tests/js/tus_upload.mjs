// Upload a file to Recast's tus endpoint with the official tus-js-client, pausing midway and resuming
// with a new client (as a reloaded page would), driven by the Python test over stdin/stdout:
//   node tus_upload.mjs ENDPOINT API_KEY FILE CHUNK_SIZE
// prints one JSON line per step: {"step":"paused","url":…,"offset":…}, waits for a line on stdin,
// then {"step":"done","url":…,"offset":…} (or {"step":"error","message":…}, exit 1).
// With TERMINATE=1 it then deletes the upload with tus-js-client's termination.
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import * as tus from "tus-js-client";

const [endpoint, key, file, chunk] = process.argv.slice(2);
const data = readFileSync(file);
const say = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const options = {
  endpoint,
  chunkSize: Number(chunk),
  headers: { Authorization: `Bearer ${key}` },
  metadata: { filename: file.split("/").pop(), filetype: "video/mp4" },
  retryDelays: null, // a failure is the test's to see, not to retry past
  storeFingerprintForResuming: false,
};

function firstHalf() {
  return new Promise((resolve, reject) => {
    let paused = false;
    const upload = new tus.Upload(data, {
      ...options,
      onError: reject,
      onSuccess: () => reject(new Error("finished before it was paused")),
      onChunkComplete: (_size, accepted) => {
        if (!paused && accepted >= data.length / 2) {
          paused = true;
          upload.abort().then(() => resolve({ url: upload.url, offset: accepted }), reject);
        }
      },
    });
    upload.start();
  });
}

function rest(url) {
  return new Promise((resolve, reject) => {
    const upload = new tus.Upload(data, {
      ...options,
      uploadUrl: url, // resume: tus-js-client HEADs it and sends from Upload-Offset on
      onError: reject,
      onSuccess: () => resolve(upload.url),
    });
    upload.start();
  });
}

try {
  const half = await firstHalf();
  say({ step: "paused", ...half });
  const lines = createInterface({ input: process.stdin });
  await new Promise((resolve) => lines.once("line", resolve));
  lines.close();
  const url = await rest(half.url);
  say({ step: "done", url, offset: data.length });
  if (process.env.TERMINATE === "1") {
    await tus.Upload.terminate(url, { headers: options.headers });
    say({ step: "terminated", url });
  }
} catch (err) {
  say({ step: "error", message: String(err && err.message ? err.message : err) });
  process.exit(1);
}
