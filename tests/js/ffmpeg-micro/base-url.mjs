// Preloaded with `node --import`: points the document's client.mjs, unchanged, at Recast. Its API_URL
// constant is FFmpeg Micro's host, so requests to that host go to RECAST_URL instead: the base URL is
// the one thing a user changes (with the key, FFMPEG_MICRO_API_KEY). Every other URL is fetched as is.
const HOSTED = 'https://api.ffmpeg-micro.com'
const target = process.env.RECAST_URL
const realFetch = globalThis.fetch

globalThis.fetch = (input, init) => {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
  if (url.startsWith(HOSTED)) return realFetch(target + url.slice(HOSTED.length), init)
  return realFetch(input, init)
}
