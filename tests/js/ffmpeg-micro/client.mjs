// client.mjs
const API_URL = 'https://api.ffmpeg-micro.com'
const API_KEY = process.env.FFMPEG_MICRO_API_KEY

const authHeaders = {
  Authorization: `Bearer ${API_KEY}`,
  'Content-Type': 'application/json',
}

// Create a transcode job
export async function createTranscode(body) {
  const res = await fetch(`${API_URL}/v1/transcodes`, {
    method: 'POST',
    headers: authHeaders,
    body: JSON.stringify(body),
  })
  const json = await res.json()
  if (!res.ok) throw new Error(`transcode ${res.status}: ${JSON.stringify(json)}`)
  return json
}

// Poll until the job is completed or failed
export async function waitForJob(jobId, { intervalMs = 3000, maxAttempts = 100 } = {}) {
  for (let i = 0; i < maxAttempts; i++) {
    const res = await fetch(`${API_URL}/v1/transcodes/${jobId}`, {
      headers: { Authorization: `Bearer ${API_KEY}` },
    })
    const job = await res.json()
    if (job.status === 'completed') return job
    if (job.status === 'failed') throw new Error(`Job ${jobId} failed: ${job.error_message || 'unknown'}`)
    await new Promise((r) => setTimeout(r, intervalMs))
  }
  throw new Error(`Job ${jobId} timed out`)
}

// Get a signed download URL for a completed job
export async function getDownloadUrl(jobId) {
  const res = await fetch(`${API_URL}/v1/transcodes/${jobId}/download`, {
    headers: { Authorization: `Bearer ${API_KEY}` },
  })
  const json = await res.json()
  if (!res.ok) throw new Error(`download ${res.status}: ${JSON.stringify(json)}`)
  return json.url
}
