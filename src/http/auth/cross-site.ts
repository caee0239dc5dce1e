const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Why a state-changing browser request looks cross-site, or null. Sec-Fetch-Site must say
 * same-origin (or none: typed by the user); an Origin must name the host the request was sent to. Requests with neither
 * header (curl, scripts) pass: SameSite=Lax already keeps the cookie off cross-site POSTs.
 */
export function crossSiteReason(method: string, url: string, headers: Headers): string | null {
  if (SAFE_METHODS.has(method)) return null;
  const fetchSite = headers.get("sec-fetch-site");
  if (fetchSite !== null && fetchSite !== "same-origin" && fetchSite !== "none") {
    return `Sec-Fetch-Site is ${fetchSite}`;
  }
  const origin = headers.get("origin");
  if (origin === null) return null;
  // The request URL's host is the Host header the server (or nginx, which passes it on) received.
  const host = new URL(url).host.toLowerCase();
  let originHost: string | null = null;
  try {
    originHost = origin === "null" ? null : new URL(origin).host.toLowerCase();
  } catch {
    originHost = null;
  }
  return originHost !== null && originHost === host ? null : `Origin ${origin} is not this site`;
}
