"""The HTTP API (`/api/v1`): one router per resource, each calling the façade as the person signed in."""
