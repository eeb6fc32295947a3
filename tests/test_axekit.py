"""The accessibility tool itself: axe-core in headless Chromium finds what it should, so a
page test that reports no violation means something."""
import pytest

import axekit

why = axekit.skip_reason()
pytestmark = pytest.mark.skipif(why is not None, reason=why or "")


def test_axe_finds_low_contrast_and_an_unlabelled_field(tmp_path):
    page = tmp_path / "bad.html"
    page.write_text('<!doctype html><html lang="en"><head><title>t</title></head><body><main>'
                    '<p style="color:#1e8a3c;background:#fff">All good</p><textarea></textarea>'
                    '</main></body></html>')
    good = tmp_path / "good.html"
    good.write_text('<!doctype html><html lang="en"><head><title>t</title>'
                    '<meta name="viewport" content="width=device-width, initial-scale=1"></head><body><main>'
                    '<p style="color:#17692d;background:#fff">All good</p>'
                    '<label for="t">Policy</label><textarea id="t"></textarea></main></body></html>')
    with axekit.axe_browser() as b:
        b.goto(page.as_uri())
        found = {v["id"]: v["impact"] for v in axekit.serious(b)}
        assert found == {"color-contrast": "serious", "label": "critical"}
        b.goto(good.as_uri())
        assert axekit.serious(b) == []
        b.width(390)
        assert b.js("window.innerWidth") == 390
