"""The HTTP API against its contract: the checked-in OpenAPI document, fuzzed."""
