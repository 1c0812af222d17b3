"""The HTTP API and the web pages, served by `reviewflow serve`: thin over the `Reviewflow` façade."""
