"""A session's device in words, from the User-Agent it logged in with ("Chrome on Linux").

Only the summary is kept, never the header itself: it is what a person needs to
recognise their own sessions, and no more of what their browser says about them.
"""

from __future__ import annotations

import re

UNKNOWN_DEVICE = "Unknown device"
MAX_DEVICE_LENGTH = 100

# first match wins: browsers built on Chrome also say "Chrome", and Chrome says "Safari"
_BROWSERS: tuple[tuple[str, str], ...] = (
    (r"\bEdg(e|A|iOS)?/", "Edge"),
    (r"\bOPR/|\bOpera\b", "Opera"),
    (r"\bSamsungBrowser/", "Samsung Internet"),
    (r"\bUCBrowser/", "UC Browser"),
    (r"\bFirefox/|\bFxiOS/", "Firefox"),
    (r"\bCriOS/", "Chrome"),
    (r"\bHeadlessChrome/", "Headless Chrome"),
    (r"\bChromium/", "Chromium"),
    (r"\bChrome/", "Chrome"),
    (r"\bVersion/[\d.]+.*\bSafari/", "Safari"),
    (r"\bPostmanRuntime/", "Postman"),
    (r"^curl/", "curl"),
    (r"^python-httpx/", "python-httpx"),
    (r"^python-requests/", "python-requests"),
    (r"^okhttp/", "OkHttp"),
)
_SYSTEMS: tuple[tuple[str, str], ...] = (
    (r"\bAndroid\b", "Android"),
    (r"\biPad\b", "iPadOS"),
    (r"\biPhone\b|\biPod\b", "iOS"),
    (r"\bCrOS\b", "ChromeOS"),
    (r"\bWindows\b", "Windows"),
    (r"\bMac OS X\b|\bMacintosh\b", "macOS"),
    (r"\bLinux\b|\bX11\b", "Linux"),
)
_COMPILED_BROWSERS = tuple((re.compile(pattern), name) for pattern, name in _BROWSERS)
_COMPILED_SYSTEMS = tuple((re.compile(pattern), name) for pattern, name in _SYSTEMS)


def describe_device(user_agent: str | None) -> str:
    """``"<browser> on <system>"``, either part alone when the other is unknown, and
    :data:`UNKNOWN_DEVICE` when neither is recognised."""
    text = (user_agent or "")[:1024]
    browser = next((name for pattern, name in _COMPILED_BROWSERS if pattern.search(text)), None)
    system = next((name for pattern, name in _COMPILED_SYSTEMS if pattern.search(text)), None)
    if browser and system:
        return f"{browser} on {system}"
    return (browser or system or UNKNOWN_DEVICE)[:MAX_DEVICE_LENGTH]
