"""The one outbound HTTP client: SSRF guard, timeouts, size caps, no redirects."""
