"""The web page: a live view served by the daemon (`GET /`) and the same page as a static report (`scan --html`).

    assets.py   the page's files (package data), read once, gzip-compressed once, with ETags
    serve.py    aiohttp routes for the page shell and its files, and the security headers of every response
    report.py   one self-contained HTML file with the data inlined (a pure function of a stats document)

The page itself (static/app.js) only reads the JSON API with relative URLs; it holds no data.
"""
