// The Hypervideo document's "Polling Example (SDK)", run with Hypervideo's own SDK against Recast,
// unchanged but for the client's configuration (a Recast key and base URL instead of `hc_...` and
// https://api.hypervideo.dev):
//   node hypervideo_poll.mjs BASE_URL API_KEY VIDEO
// prints the example's progress lines and outputs, then one JSON line: the job the poll returned, what
// the SDK throws for a key that did not submit the job and for an unknown key, and a synchronous
// `client.video.removeBackground` (its data URL replaced by its prefix and decoded size).
import { readFileSync } from 'node:fs';
import { Hypervideo, HypervideoError } from '@hypervideo-dev/sdk';

const [baseUrl, apiKey, path, otherKey] = process.argv.slice(2);
const videoFile = readFileSync(path);
const client = new Hypervideo({ apiKey, baseUrl });

// --- the document's example, as written ---
// Submit
const { jobId } = await client.jobs.submit({ file: videoFile, formats: ['webm', 'stacked-alpha'],});
// Poll with progress callback
const job = await client.jobs.poll(jobId, { onProgress: (j) => { console.log(`${j.progress}% - ${j.stage}`); },});
// Download result
console.log(job.result.outputs);
// --- end of the example ---

async function thrown(key) {
  try {
    await new Hypervideo({ apiKey: key, baseUrl }).jobs.get(jobId);
    return null;
  } catch (error) {
    if (!(error instanceof HypervideoError)) throw error;
    return { code: error.code, statusCode: error.statusCode, isAuthError: error.isAuthError() };
  }
}
// The synchronous endpoint the document's submit "accepts the same parameters as".
const sync = await client.video.removeBackground({ file: videoFile, format: 'webm', tolerance: 30 });
const inline = Buffer.from(sync.url.slice(sync.url.indexOf(',') + 1), 'base64');
const syncReport = { ...sync, url: sync.url.slice(0, sync.url.indexOf(',')), decodedBytes: inline.length };
console.log(JSON.stringify({
  jobId, job, otherKey: await thrown(otherKey), unknownKey: await thrown('hc_unknown'), sync: syncReport,
}));
