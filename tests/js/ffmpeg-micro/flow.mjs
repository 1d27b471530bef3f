// The document's full-flow.mjs on its unchanged client.mjs helpers, with the input URL from INPUT_URL
// (the document's gs://your-bucket needs Google's storage) and the file written to OUT_FILE; each step
// is printed as one JSON line for tests/e2e/test_compat_ffmpeg_micro.py. Then the failures the lesson
// names: a bad request, a failed job (waitForJob throws with error_message), a download refused.
import { writeFileSync } from 'node:fs'
import { createTranscode, waitForJob, getDownloadUrl } from './client.mjs'

const step = (fields) => console.log(JSON.stringify(fields))

const job = await createTranscode({
  inputs: [{ url: process.env.INPUT_URL }],
  outputFormat: 'mp4',
  preset: { quality: 'medium', resolution: '720p' },
})
step({ step: 'created', job })

const done = await waitForJob(job.id, { intervalMs: 500 })
step({ step: 'completed', job: done })

const url = await getDownloadUrl(job.id)
const out = await fetch(url)
const buf = Buffer.from(await out.arrayBuffer())
writeFileSync(process.env.OUT_FILE, buf)
step({ step: 'saved', url, status: out.status, bytes: buf.length })

try {
  await createTranscode({ inputs: [], outputFormat: 'mp4' })
  step({ step: 'accepted-bad-request' })
} catch (err) {
  step({ step: 'bad-request', message: err.message })
}

const bad = await createTranscode({ inputs: [{ url: process.env.BROKEN_URL }], outputFormat: 'mp4' })
try {
  await waitForJob(bad.id, { intervalMs: 500 })
  step({ step: 'completed-broken' })
} catch (err) {
  step({ step: 'failed', message: err.message })
}
try {
  await getDownloadUrl(bad.id)
  step({ step: 'downloaded-broken' })
} catch (err) {
  step({ step: 'download-refused', message: err.message })
}
