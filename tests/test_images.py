"""tinyae.images: image files in and out, sizes, and the reference codecs' bytes."""
from __future__ import annotations

import io
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

Image = pytest.importorskip("PIL.Image")

from tinyae import images  # noqa: E402
from tinyae.errors import DTypeError, ImageFileError, ShapeError  # noqa: E402
from tinyae.images import fitting, reference  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def random_uint8(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def smooth_image(channels=3, h=28, w=28):
    """A smooth image (C, H, W) in [0, 1]: gradients and a disc, which codecs compress like photographs."""
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    planes = [np.clip(0.5 + 0.5 * np.sin(3 * xx + 2 * k) * np.cos(2 * yy - k) + 0.3 * ((xx - .5) ** 2 + (yy - .5) ** 2 < .1),
                      0, 1) for k in range(channels)]
    return np.stack(planes).astype(np.float32)


def save(path, array, **options):
    Image.fromarray(array).save(path, **options)
    return path


# --- 8 bits ------------------------------------------------------------------------------------------

def test_to_uint8_rounds_half_up_and_clips():
    x = np.array([-0.5, 0.0, 0.5 / 255, 1.49 / 255, 1.5 / 255, 0.5, 254.5 / 255, 1.0, 3.0])
    assert images.to_uint8(x).tolist() == [0, 0, 1, 1, 2, 128, 255, 255, 255]


def test_from_uint8_then_to_uint8_gives_back_every_byte():
    a = np.arange(256, dtype=np.uint8)
    assert np.array_equal(images.to_uint8(images.from_uint8(a)), a)
    assert images.from_uint8(a).dtype == np.float32 and images.from_uint8(a)[-1] == 1.0


def test_to_uint8_refuses_integers_and_nan():
    with pytest.raises(DTypeError, match="from_uint8"):
        images.to_uint8(np.zeros(3, np.uint8))
    with pytest.raises(FloatingPointError, match="NaN"):
        images.to_uint8(np.array([np.nan]))


# --- reading and writing ------------------------------------------------------------------------------

@pytest.mark.parametrize("channels", [1, 3])
def test_png_round_trip_is_exact_to_8_bits(tmp_path, channels):
    x = images.from_uint8(random_uint8((channels, 17, 23)))
    images.write(tmp_path / "x.png", x)
    y = images.read(tmp_path / "x.png")
    assert y.shape == (1, channels, 17, 23) and y.dtype == np.float32
    assert np.array_equal(y[0], x)


def test_write_takes_a_batch_of_one_and_rounds_floats_to_the_nearest_byte(tmp_path):
    x = np.full((1, 1, 2, 2), 100.4 / 255, np.float32)
    images.write(tmp_path / "x.png", x)
    assert np.asarray(Image.open(tmp_path / "x.png")).tolist() == [[100, 100], [100, 100]]


def test_write_without_extension_writes_png_and_leaves_no_temporary_file(tmp_path):
    images.write(tmp_path / "x", np.zeros((1, 4, 4), np.float32))
    assert (tmp_path / "x").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x"]


@pytest.mark.parametrize("shape", [(4, 4), (2, 4, 4), (4, 4, 4), (2, 1, 4, 4), (1, 0, 4)])
def test_write_refuses_shapes_that_are_not_one_grey_or_rgb_image(tmp_path, shape):
    with pytest.raises(ShapeError, match="expected one image"):
        images.write(tmp_path / "x.png", np.zeros(shape, np.float32))
    assert not (tmp_path / "x.png").exists()


def test_write_refuses_an_unknown_extension_and_quality_for_png(tmp_path):
    with pytest.raises(ImageFileError, match="extension '.xyz'"):
        images.write(tmp_path / "x.xyz", np.zeros((1, 4, 4), np.float32))
    with pytest.raises(ValueError, match="quality is for JPEG and WebP"):
        images.write(tmp_path / "x.png", np.zeros((1, 4, 4), np.float32), quality=80)


@pytest.mark.parametrize("name", ["x.jpg", "x.webp"])
def test_jpeg_and_webp_are_written_with_their_quality_and_read_back_close(tmp_path, name):
    x = smooth_image(3, 32, 40)
    images.write(tmp_path / name, x, quality=95)
    y = images.read(tmp_path / name)
    assert y.shape == (1, 3, 32, 40)
    assert np.abs(y[0] - x).mean() < 0.03


def test_read_rgb_as_grey_is_pillows_L_conversion(tmp_path):
    a = random_uint8((9, 11, 3))
    save(tmp_path / "c.png", a)
    y = images.read(tmp_path / "c.png", mode="grey")
    assert y.shape == (1, 1, 9, 11)
    assert np.array_equal(images.to_uint8(y[0, 0]), np.asarray(Image.fromarray(a).convert("L")))


def test_read_grey_as_rgb_repeats_the_channel(tmp_path):
    a = random_uint8((5, 6))
    save(tmp_path / "g.png", a)
    y = images.read(tmp_path / "g.png", mode="rgb")
    assert y.shape == (1, 3, 5, 6) and all(np.array_equal(y[0, k], a / np.float32(255)) for k in range(3))


@pytest.mark.parametrize("pil_mode, channels", [("L", 1), ("LA", 1), ("1", 1), ("RGB", 3), ("RGBA", 3),
                                                ("CMYK", 3), ("P", 3)])
def test_mode_none_keeps_grey_files_grey_and_makes_the_others_rgb(tmp_path, pil_mode, channels):
    base = Image.fromarray(random_uint8((6, 7, 3)))
    image = base.convert(pil_mode) if pil_mode != "P" else base.quantize(16)
    path = tmp_path / ("x.tif" if pil_mode == "CMYK" else "x.png")
    image.save(path)
    assert images.read(path).shape == (1, channels, 6, 7)


def test_a_palette_image_of_grey_colours_reads_as_grey(tmp_path):
    Image.fromarray(random_uint8((6, 7))).convert("P").save(tmp_path / "p.png")
    assert Image.open(tmp_path / "p.png").mode == "P"
    assert images.read(tmp_path / "p.png").shape == (1, 1, 6, 7)


def test_rgba_alpha_is_dropped_not_composited(tmp_path):
    a = random_uint8((4, 5, 4))
    a[..., 3] = 0                                            # fully transparent: the colours stay
    save(tmp_path / "a.png", a)
    assert np.array_equal(images.to_uint8(images.read(tmp_path / "a.png")[0]), a[..., :3].transpose(2, 0, 1))


def test_16_bit_png_is_scaled_by_1_over_65535(tmp_path):
    a = np.array([[0, 1, 32768, 65535]], np.uint16)
    save(tmp_path / "d.png", a)
    y = images.read(tmp_path / "d.png")
    assert y.shape == (1, 1, 1, 4)
    np.testing.assert_allclose(y[0, 0, 0], a[0] / 65535.0, rtol=1e-6)
    assert images.read(tmp_path / "d.png", mode="rgb").shape == (1, 3, 1, 4)


def test_gif_reads_its_first_frame(tmp_path):
    frames = [Image.fromarray(np.full((4, 4), v, np.uint8)) for v in (10, 200)]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    assert np.allclose(images.read(tmp_path / "a.gif", mode="grey"), 10 / 255)


def test_bmp_reads_exactly(tmp_path):
    a = random_uint8((5, 9, 3))
    save(tmp_path / "b.bmp", a)
    assert np.array_equal(images.to_uint8(images.read(tmp_path / "b.bmp")[0]), a.transpose(2, 0, 1))


def test_an_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="unknown image mode 'gray'"):
        images.read("any.png", mode="gray")


# --- bad files ---------------------------------------------------------------------------------------------

def test_an_image_over_the_bomb_limit_is_refused_with_its_pixel_count_and_the_limit(tmp_path, monkeypatch):
    save(tmp_path / "big.png", np.zeros((10, 12), np.uint8))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)      # 120 pixels: over the limit (Pillow warns)
    with pytest.raises(ImageFileError) as info:
        images.read(tmp_path / "big.png")
    message = str(info.value)
    assert str(tmp_path / "big.png") in message and "120 pixels" in message and "limit of 100 pixels" in message
    assert "PIL.Image.MAX_IMAGE_PIXELS" in message and "if you trust the file" in message
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 50)       # over twice the limit (Pillow raises)
    with pytest.raises(ImageFileError, match="limit of 50 pixels"):
        images.read(tmp_path / "big.png")


def test_a_missing_file_is_an_error_naming_it(tmp_path):
    with pytest.raises(ImageFileError, match="nothere.png: no such image file"):
        images.read(tmp_path / "nothere.png")


def test_a_folder_is_an_error_naming_it(tmp_path):
    with pytest.raises(ImageFileError, match="is a folder, not an image file"):
        images.read(tmp_path)


def test_a_text_file_named_png_is_not_an_image(tmp_path):
    (tmp_path / "notes.png").write_text("hello, not a picture\n")
    with pytest.raises(ImageFileError, match=r"notes.png: not an image file Pillow can read \(it starts with b'hello"):
        images.read(tmp_path / "notes.png")


def test_an_empty_file_is_not_an_image(tmp_path):
    (tmp_path / "e.png").write_bytes(b"")
    with pytest.raises(ImageFileError, match="empty"):
        images.read(tmp_path / "e.png")


@pytest.mark.parametrize("name", ["t.png", "t.jpg"])
def test_a_truncated_image_is_an_error_naming_the_file(tmp_path, name):
    images.write(tmp_path / name, smooth_image(3, 64, 64))
    data = (tmp_path / name).read_bytes()
    (tmp_path / name).write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageFileError, match=f"{name}: the image is truncated or damaged"):
        images.read(tmp_path / name)


def test_import_tinyae_and_images_work_without_pillow_and_reading_says_how_to_install():
    code = ("import sys; sys.modules['PIL'] = None\n"
            "import tinyae, tinyae.images as im\n"
            "try:\n    im.read('x.png')\nexcept ImportError as e:\n    print(e)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60,
                            env={"PYTHONPATH": str(REPO), "PATH": ""})
    assert result.returncode == 0, result.stderr
    assert 'pip install -e ".[images]"' in result.stdout


# --- batches -------------------------------------------------------------------------------------------

def test_read_all_stacks_images_of_one_size(tmp_path):
    paths = [save(tmp_path / f"{i}.png", random_uint8((6, 8), i)) for i in range(3)]
    assert images.read_all(paths).shape == (3, 1, 6, 8)


def test_read_all_names_the_first_file_of_another_size_and_suggests_size(tmp_path):
    paths = [save(tmp_path / "a.png", random_uint8((6, 8))), save(tmp_path / "b.png", random_uint8((6, 8))),
             save(tmp_path / "c.png", random_uint8((7, 8))), save(tmp_path / "d.png", random_uint8((9, 9)))]
    with pytest.raises(ImageFileError, match=r"c.png: is 7×8 pixels .*a.png is 6×8; .*size=\(h, w\)"):
        images.read_all(paths)
    assert images.read_all(paths, size=(5, 5)).shape == (4, 1, 5, 5)


def test_read_all_refuses_grey_among_rgb_and_suggests_a_mode(tmp_path):
    paths = [save(tmp_path / "a.png", random_uint8((6, 8, 3))), save(tmp_path / "b.png", random_uint8((6, 8)))]
    with pytest.raises(ImageFileError, match="b.png: has 1 channel.*mode='rgb'"):
        images.read_all(paths)
    assert images.read_all(paths, mode="rgb").shape == (2, 3, 6, 8)


# --- geometry ----------------------------------------------------------------------------------------------

def test_resize_gives_the_size_asked_for_in_0_to_1_without_8_bit_steps():
    x = np.random.default_rng(0).random((2, 3, 30, 41), dtype=np.float32)
    y = images.resize(x, (28, 13))
    assert y.shape == (2, 3, 28, 13) and y.dtype == np.float32
    assert 0.0 <= y.min() and y.max() <= 1.0
    assert not np.allclose(y * 255, np.round(y * 255))        # float resampling, not 8-bit


def test_resize_keeps_a_constant_image_constant_and_each_channel_apart():
    x = np.stack([np.full((9, 9), 0.25), np.full((9, 9), 0.75)])[None].astype(np.float32)
    np.testing.assert_allclose(images.resize(x, (4, 17)), np.broadcast_to(x[:, :, :1, :1], (1, 2, 4, 17)), atol=1e-6)


def test_fit_to_returns_the_images_themselves_at_their_size_and_resizes_otherwise():
    x = np.zeros((1, 1, 28, 28), np.float32)
    assert images.fit_to(x, (28, 28)) is x
    assert images.fit_to(np.zeros((1, 1, 40, 30), np.float32), (28, 28)).shape == (1, 1, 28, 28)


@pytest.mark.parametrize("multiple", [2, 4, 8])
@pytest.mark.parametrize("mode", ["reflect", "edge", "constant"])
@pytest.mark.parametrize("h, w", [(1, 1), (5, 7), (13, 9), (16, 24)])
def test_pad_to_multiple_then_crop_gives_back_the_image(multiple, mode, h, w):
    x = np.random.default_rng(0).random((2, 3, h, w), dtype=np.float32)
    padded, size = images.pad_to_multiple(x, multiple, mode=mode)
    assert size == (h, w)
    assert padded.shape[2] % multiple == 0 and padded.shape[3] % multiple == 0
    assert padded.shape[2] - h < multiple and padded.shape[3] - w < multiple
    assert np.array_equal(padded[:, :, :h, :w], x)
    assert np.array_equal(images.crop(padded, size), x)


def test_pad_reflect_mirrors_about_the_last_row_edge_repeats_it_constant_fills():
    x = np.tile(np.arange(3, dtype=np.float32), (5, 1))         # 5 rows: only the columns are padded
    assert images.pad_to_multiple(x, 5)[0].tolist() == [[0, 1, 2, 1, 0]] * 5
    assert images.pad_to_multiple(x, 5, mode="edge")[0].tolist() == [[0, 1, 2, 2, 2]] * 5
    assert images.pad_to_multiple(x, 5, mode="constant", value=9)[0].tolist() == [[0, 1, 2, 9, 9]] * 5


def test_crop_refuses_a_size_larger_than_the_array():
    with pytest.raises(ShapeError, match="cannot cut 5×5"):
        images.crop(np.zeros((1, 1, 4, 8)), (5, 5))


def test_a_fully_convolutional_model_needs_a_multiple_of_its_stride_and_a_dense_one_none():
    from tinyae import models
    conv, dense = models.build("conv"), models.build("dense")
    assert fitting.size_multiple(conv, 1, 28, 28) == 1
    assert fitting.size_multiple(conv, 1, 29, 30) == 4       # two 2×2 poolings
    assert fitting.size_multiple(dense, 1, 28, 28) == 1
    assert fitting.size_multiple(dense, 1, 29, 30) is None
    x = np.random.default_rng(0).random((1, 1, 29, 30), dtype=np.float32)
    assert fitting.apply_padded(conv.reconstruct, x, 4).shape == (1, 1, 29, 30)


# --- the reference codecs -----------------------------------------------------------------------------

def jpeg_cases():
    for channels in (1, 3):
        for side in (28, 96):
            for progressive in (False, True):
                yield pytest.param(channels, side, progressive, id=f"C{channels}-{side}px-"
                                   f"{'progressive' if progressive else 'baseline'}")


def sos_segments(data: bytes):
    """(start, end) of each SOS segment, found by a naive search independent of the walker under test."""
    found, i = [], 0
    while (i := data.find(b"\xff\xda", i)) >= 0:
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        found.append((i, i + 2 + length))
        i += 2 + length
    return found


def scans_by_regex(data: bytes) -> bytes:
    """Each SOS segment's following bytes up to the first marker that is not FF 00 or RSTn, concatenated."""
    return b"".join(data[end:end + re.search(rb"\xff[^\x00\xd0-\xd7]", data[end:]).start()]
                    for _, end in sos_segments(data))


@pytest.mark.parametrize("channels, side, progressive", list(jpeg_cases()))
def test_jpeg_scan_data_and_headers_add_up_to_the_file_and_scan_follows_sos(channels, side, progressive):
    data = reference.jpeg_bytes(smooth_image(channels, side, side), quality=75, progressive=progressive)
    layout = reference.jpeg_layout(data)
    assert len(layout.scan) + layout.header_bytes == len(data)
    assert reference.jpeg_scan_data(data) == layout.scan
    assert (layout.scans > 1) == progressive
    assert data.endswith(b"\xff\xd9")
    assert layout.scans == len(sos_segments(data))
    assert layout.scan == scans_by_regex(data)                  # each scan starts right after its SOS segment
    if not progressive:
        (_, sos_end), = sos_segments(data)
        assert data[sos_end:-2] == layout.scan                 # one scan: right after SOS, up to EOI
    assert b"\xff\xd8" not in layout.scan and b"\xff\xda" not in layout.scan


def test_jpeg_scan_data_keeps_stuffed_ff00_and_restart_markers():
    a = random_uint8((64, 64, 3))                              # noise: many 0xFF bytes in the entropy code
    buffer = io.BytesIO()
    Image.fromarray(a).save(buffer, format="JPEG", quality=95, restart_marker_blocks=1)
    data = buffer.getvalue()
    scan = reference.jpeg_scan_data(data)
    assert b"\xff\x00" in scan and b"\xff\xd0" in scan
    (_, sos_end), = sos_segments(data)
    assert scan == data[sos_end:-2]


def test_jpeg_scan_data_fails_clearly_on_truncated_and_foreign_data():
    data = reference.jpeg_bytes(smooth_image(3), quality=75)
    with pytest.raises(ImageFileError, match="truncated: the scan data"):
        reference.jpeg_scan_data(data[:-10])
    with pytest.raises(ImageFileError, match="truncated: segment FF"):
        reference.jpeg_scan_data(data[:30])
    with pytest.raises(ImageFileError, match="missing the SOI marker"):
        reference.jpeg_scan_data(reference.png_bytes(smooth_image(3)))
    with pytest.raises(ImageFileError, match="no SOS"):
        reference.jpeg_scan_data(b"\xff\xd8\xff\xfe\x00\x04hi\xff\xd9")


@pytest.mark.parametrize("lossless, kind", [(False, "VP8 "), (True, "VP8L")])
@pytest.mark.parametrize("channels, side", [(1, 28), (3, 28), (3, 96)])
def test_webp_vp8_chunk_and_headers_add_up_to_the_file(lossless, kind, channels, side):
    data = reference.webp_bytes(smooth_image(channels, side, side), quality=75, lossless=lossless)
    layout = reference.webp_layout(data)
    assert layout.kind == kind
    assert len(layout.payload) + layout.header_bytes == len(data)
    assert reference.webp_vp8_chunk(data) == layout.payload
    start = data.index(kind.encode()) + 8
    assert data[start:start + len(layout.payload)] == layout.payload
    assert struct.unpack("<I", data[start - 4:start])[0] == len(layout.payload)


def test_webp_vp8_chunk_fails_clearly_on_truncated_and_foreign_data():
    data = reference.webp_bytes(smooth_image(3), quality=75)
    with pytest.raises(ImageFileError, match="truncated"):
        reference.webp_vp8_chunk(data[:-5])
    with pytest.raises(ImageFileError, match="expected 'RIFF'"):
        reference.webp_vp8_chunk(reference.png_bytes(smooth_image(3)))
    with pytest.raises(ImageFileError, match="no 'VP8 ' or 'VP8L' chunk"):
        reference.webp_vp8_chunk(b"RIFF" + struct.pack("<I", 16) + b"WEBPEXIF" + struct.pack("<I", 3) + b"abc\x00")


@pytest.mark.parametrize("encode", [lambda x: reference.jpeg_bytes(x, 90), lambda x: reference.webp_bytes(x, 90),
                                    reference.png_bytes], ids=["jpeg", "webp", "png"])
def test_each_codec_gives_bytes_that_decode_to_the_image(encode):
    x = smooth_image(3, 40, 32)
    y = reference.decode_bytes(encode(x))
    assert y.shape == (1, 3, 40, 32) and y.dtype == np.float32
    assert np.abs(y[0] - x).mean() < 0.03


def test_png_bytes_are_lossless_and_jpeg_bytes_shrink_with_quality():
    x = images.from_uint8(random_uint8((1, 28, 28)))
    assert np.array_equal(reference.decode_bytes(reference.png_bytes(x))[0], x)
    smooth = smooth_image(1)
    assert len(reference.jpeg_bytes(smooth, 10)) < len(reference.jpeg_bytes(smooth, 90))


def test_decode_bytes_of_garbage_is_a_clear_error():
    with pytest.raises(ImageFileError, match="the image bytes: not an image file"):
        reference.decode_bytes(b"garbage" * 10)


def test_codecs_on_the_camera_photograph_from_scikit_image():
    data = pytest.importorskip("skimage.data")
    camera = images.from_uint8(data.camera())[None]           # 512×512 grey, shipped with scikit-image
    jpeg = reference.jpeg_bytes(camera, 50)
    assert reference.jpeg_layout(jpeg).header_bytes < 1000 < len(reference.jpeg_scan_data(jpeg))
    assert np.abs(reference.decode_bytes(jpeg)[0] - camera).mean() < 0.03
    webp = reference.webp_bytes(camera, 50)
    assert len(reference.webp_vp8_chunk(webp)) > 0.9 * len(webp)
