"""Board and annual reports: figures from plain facts (pure), then HTML, Markdown, CSV and JSON."""
