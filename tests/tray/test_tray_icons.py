"""Icons: colour and shape differ per state, crisp at small sizes."""
from agent.tray.icons import COLORS, STATES, draw_icon


def data(img):
    """Pixels as tuples (Pillow 13 renamed getdata)."""
    return list(img.get_flattened_data() if hasattr(img, "get_flattened_data") else data(img))


def coverage(img):
    return [a > 128 for a in data(img.getchannel("A"))]


def dominant(img):
    px = [p[:3] for p in data(img) if p[3] > 200]
    return max(set(px), key=px.count)


def test_every_state_has_its_colour_and_size():
    for state in STATES:
        for size in (16, 22, 32, 64):
            img = draw_icon(state, size)
            assert img.size == (size, size) and img.mode == "RGBA"
        dom = dominant(draw_icon(state, 64))
        assert max(abs(a - b) for a, b in zip(dom, COLORS[state])) < 30, (state, dom)


def test_shapes_differ_without_colour():
    """Grey-scale masks (what a colour-blind user relies on) differ pairwise."""
    masks = {s: coverage(draw_icon(s, 32)) for s in STATES}
    glyphs = {s: [sum(p[:3]) > 600 and p[3] > 200 for p in data(draw_icon(s, 32))] for s in STATES}
    for a in STATES:
        for b in STATES:
            if a < b:
                diff = sum(x != y for x, y in zip(masks[a], masks[b])) + \
                    sum(x != y for x, y in zip(glyphs[a], glyphs[b]))
                assert diff > 30, (a, b, diff)


def test_outline_reads_on_light_and_dark_bars():
    for state in STATES:
        img = draw_icon(state, 32)
        dark = sum(1 for p in data(img) if p[3] > 200 and sum(p[:3]) < 150)
        light_or_colour = sum(1 for p in data(img) if p[3] > 200 and sum(p[:3]) > 250)
        assert dark > 20 and light_or_colour > 50, state


def test_unknown_state_names_draw_grey():
    assert dominant(draw_icon("bogus")) == dominant(draw_icon("unknown"))


def test_checking_dots_stay_apart_at_22px_on_light_and_dark_panels():
    """Three bright dots, each pair split by a clearly darker gap, on both kinds of panel
    (the old grey dots on a transparent ring merged into one grey bar)."""
    from PIL import Image
    for panel in ((240, 240, 240), (246, 245, 244), (30, 30, 30), (0, 0, 0)):
        img = Image.new("RGBA", (22, 22), panel + (255,))
        img.alpha_composite(draw_icon("checking", 22))
        row = [img.convert("L").getpixel((x, 11)) for x in range(22)]
        inner = row[3:19]                      # inside the disc's outline
        runs, prev = [], False
        for x, v in enumerate(inner):
            bright = v >= 200
            if bright and not prev:
                runs.append([x, x])
            elif bright:
                runs[-1][1] = x
            prev = bright
        assert len(runs) == 3, (panel, row)
        for (_, end), (start, _) in zip(runs, runs[1:]):
            gap = min(inner[end + 1:start])
            assert gap <= 160 and start - end >= 2, (panel, row)   # >= 95 grey levels below the dots
