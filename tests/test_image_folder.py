"""Tests of tinyae.datasets.image_folder and image_files: random patches from a folder of image files.

Each test writes a few small PNG files with Pillow into tmp_path. Images of one constant value tell
which image a patch came from (its mean); an image whose pixels are all different tells where.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from tinyae import datasets
from tinyae.errors import DataError, DataNotFoundError

Image = pytest.importorskip("PIL.Image")


def grey_png(path: Path, pixels: np.ndarray) -> Path:
    """Write a uint8 (H, W) array as an 8-bit grey PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(pixels, dtype=np.uint8), "L").save(path)
    return path


def rgb_png(path: Path, pixels: np.ndarray) -> Path:
    """Write a uint8 (H, W, 3) array as an RGB PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(pixels, dtype=np.uint8), "RGB").save(path)
    return path


def constant(path: Path, h: int, w: int, value: int) -> Path:
    return grey_png(path, np.full((h, w), value))


def noise_folder(root: Path) -> Path:
    """Two random images, one grey (40×48) and one RGB (32×64)."""
    rng = np.random.default_rng(0)
    grey_png(root / "a.png", rng.integers(0, 256, (40, 48)))
    rgb_png(root / "b.png", rng.integers(0, 256, (32, 64, 3)))
    return root


def sources(patches: np.ndarray, values: dict[str, int]) -> dict[str, int]:
    """How many of the patches came from each constant image (told apart by the patch's mean)."""
    means = np.round(patches.mean(axis=(1, 2, 3)) * 255).astype(int)
    assert set(means) <= set(values.values())
    return {name: int((means == v).sum()) for name, v in values.items()}


# --- shapes, range, channels ------------------------------------------------------------------------

def test_patches_are_float32_n_c_patch_patch_in_zero_to_one(tmp_path):
    x = datasets.image_folder(noise_folder(tmp_path), patch=16, count=50)
    assert x.shape == (50, 1, 16, 16)
    assert x.dtype == np.float32 and x.flags.c_contiguous and x.flags.writeable
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert x.std() > 0.1  # noise, not a constant fill


def test_grey_gives_one_channel_and_rgb_three_from_the_same_files(tmp_path):
    folder = noise_folder(tmp_path)
    assert datasets.image_folder(folder, patch=8, count=20, grey=True).shape == (20, 1, 8, 8)
    rgb = datasets.image_folder(folder, patch=8, count=20, grey=False)
    assert rgb.shape == (20, 3, 8, 8)
    assert not np.allclose(rgb[:, 0], rgb[:, 1])  # colour patches, not grey repeated (b.png is RGB noise)


def test_a_grey_file_read_as_rgb_repeats_its_grey_in_three_channels(tmp_path):
    constant(tmp_path / "g.png", 20, 20, 102)
    x = datasets.image_folder(tmp_path, patch=8, count=5, grey=False)
    np.testing.assert_array_equal(x, np.float32(102 / 255))


def test_each_patch_is_an_exact_crop_of_its_image_at_a_position_where_it_fits(tmp_path):
    h, w, p = 12, 20, 5
    grey_png(tmp_path / "ramp.png", np.arange(h * w).reshape(h, w))  # 240 different values: a value is a place
    image = np.arange(h * w).reshape(h, w)
    x = datasets.image_folder(tmp_path, patch=p, count=200)
    values = np.round(x[:, 0] * 255).astype(int)
    tops, lefts = np.divmod(values[:, 0, 0], w)
    assert (tops <= h - p).all() and (lefts <= w - p).all()
    for patch, top, left in zip(values, tops, lefts):
        np.testing.assert_array_equal(patch, image[top:top + p, left:left + p])


def test_every_position_where_the_patch_fits_is_drawn_including_the_last_row_and_column(tmp_path):
    grey_png(tmp_path / "tiny.png", np.arange(25).reshape(5, 5))
    x = datasets.image_folder(tmp_path, patch=4, count=200)  # 2×2 = 4 positions
    corners = set(np.round(x[:, 0, 0, 0] * 255).astype(int))
    assert corners == {0, 1, 5, 6}


# --- determinism --------------------------------------------------------------------------------------

def test_the_same_seed_gives_the_same_patches_and_another_seed_others(tmp_path):
    folder = noise_folder(tmp_path)
    a = datasets.image_folder(folder, patch=8, count=30, seed=7)
    b = datasets.image_folder(folder, patch=8, count=30, seed=7)
    c = datasets.image_folder(folder, patch=8, count=30, seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_a_generator_may_be_given_as_the_seed(tmp_path):
    folder = noise_folder(tmp_path)
    a = datasets.image_folder(folder, patch=8, count=10, seed=np.random.default_rng(3))
    np.testing.assert_array_equal(a, datasets.image_folder(folder, patch=8, count=10, seed=3))


# --- how many patches from which image ----------------------------------------------------------------

def test_patches_are_spread_over_the_images_in_proportion_to_their_areas(tmp_path):
    constant(tmp_path / "small.png", 32, 32, 51)     # area 1024
    constant(tmp_path / "wide.png", 32, 64, 102)     # area 2048
    constant(tmp_path / "big.png", 64, 64, 153)      # area 4096
    x = datasets.image_folder(tmp_path, patch=8, count=700)
    assert sources(x, {"small.png": 51, "wide.png": 102, "big.png": 153}) == \
        {"small.png": 100, "wide.png": 200, "big.png": 400}


def test_a_count_that_does_not_divide_goes_by_largest_remainder_and_adds_up_exactly(tmp_path):
    constant(tmp_path / "a.png", 16, 16, 51)   # 1/3 of the area: 10/3 = 3.33 -> 3
    constant(tmp_path / "b.png", 16, 32, 102)  # 2/3 of the area: 20/3 = 6.67 -> 7
    x = datasets.image_folder(tmp_path, patch=8, count=10)
    assert len(x) == 10
    assert sources(x, {"a.png": 51, "b.png": 102}) == {"a.png": 3, "b.png": 7}


def test_without_a_count_each_image_gives_as_many_patches_as_would_tile_it(tmp_path):
    constant(tmp_path / "a.png", 32, 32, 51)   # 32·32 // 8² = 16
    constant(tmp_path / "b.png", 20, 30, 102)  # 600 // 64 = 9 (not a multiple of the patch)
    x = datasets.image_folder(tmp_path, patch=8)
    assert sources(x, {"a.png": 51, "b.png": 102}) == {"a.png": 16, "b.png": 9}


def test_the_patches_of_different_images_come_shuffled(tmp_path):
    constant(tmp_path / "a.png", 32, 32, 51)
    constant(tmp_path / "b.png", 32, 32, 102)
    means = np.round(datasets.image_folder(tmp_path, patch=8, count=40).mean(axis=(1, 2, 3)) * 255)
    assert not (np.all(means[:20] == 51) or np.all(means[:20] == 102))


# --- small images -------------------------------------------------------------------------------------

def test_images_smaller_than_the_patch_are_skipped_with_a_warning_naming_them(tmp_path):
    constant(tmp_path / "fits.png", 32, 32, 51)
    constant(tmp_path / "short.png", 10, 64, 102)    # too few rows
    constant(tmp_path / "narrow.png", 64, 12, 153)   # too few columns
    with pytest.warns(UserWarning, match="skipping 2 image") as caught:
        x = datasets.image_folder(tmp_path, patch=16, count=12)
    message = str(caught[0].message)
    assert "narrow.png (64×12)" in message and "short.png (10×64)" in message and "fits.png" not in message
    assert sources(x, {"fits.png": 51}) == {"fits.png": 12}


def test_when_no_image_is_as_large_as_the_patch_the_error_names_them_and_the_patch_size(tmp_path):
    constant(tmp_path / "a.png", 10, 10, 51)
    constant(tmp_path / "b.png", 20, 8, 51)
    with pytest.raises(DataError, match=r"no image is at least 32×32 pixels") as caught:
        datasets.image_folder(tmp_path, patch=32)
    assert "a.png (10×10)" in str(caught.value) and "b.png (20×8)" in str(caught.value)
    assert str(tmp_path) in str(caught.value)


def test_an_image_exactly_the_patch_size_gives_that_whole_image(tmp_path):
    grey_png(tmp_path / "a.png", np.arange(64).reshape(8, 8))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = datasets.image_folder(tmp_path, patch=8)
    assert x.shape == (1, 1, 8, 8)
    np.testing.assert_array_equal(np.round(x[0, 0] * 255), np.arange(64).reshape(8, 8))


# --- bad folders --------------------------------------------------------------------------------------

def test_a_missing_folder_raises_data_not_found_naming_it_and_the_extensions(tmp_path):
    with pytest.raises(DataNotFoundError, match="no such folder") as caught:
        datasets.image_folder(tmp_path / "photos")
    assert str(tmp_path / "photos") in str(caught.value)
    assert ".png .jpg .jpeg .bmp .webp .tif .tiff .gif" in str(caught.value)
    assert isinstance(caught.value, FileNotFoundError)


def test_an_empty_folder_raises_naming_it_and_the_extensions(tmp_path):
    (tmp_path / "photos").mkdir()
    with pytest.raises(DataNotFoundError, match="the folder is empty; expected image files: .png") as caught:
        datasets.image_folder(tmp_path / "photos")
    assert str(tmp_path / "photos") in str(caught.value)


def test_a_folder_without_images_names_what_it_holds_and_suggests_recursive(tmp_path):
    (tmp_path / "notes.txt").write_text("not an image")
    constant(tmp_path / "sub" / "a.png", 16, 16, 51)
    with pytest.raises(DataNotFoundError, match="no image files in it") as caught:
        datasets.image_folder(tmp_path, patch=8)
    message = str(caught.value)
    assert "notes.txt" in message and "sub/" in message and "recursive=True" in message and ".tiff" in message


def test_a_file_given_as_the_folder_raises_saying_so(tmp_path):
    path = constant(tmp_path / "a.png", 16, 16, 51)
    with pytest.raises(DataNotFoundError, match="is a file, not a folder"):
        datasets.image_folder(path)


def test_an_unreadable_image_file_raises_a_data_error_naming_it(tmp_path):
    constant(tmp_path / "a.png", 16, 16, 51)
    (tmp_path / "b.png").write_bytes(b"<html>not a picture</html>")
    with pytest.raises(DataError, match="b.png"):
        datasets.image_folder(tmp_path, patch=8)


@pytest.mark.parametrize("arguments", [{"patch": 0}, {"patch": 2.5}, {"patch": True}, {"count": 0},
                                       {"count": -3}, {"count": 1.0}])
def test_a_patch_or_count_that_is_not_a_whole_number_of_at_least_one_is_a_value_error(tmp_path, arguments):
    constant(tmp_path / "a.png", 16, 16, 51)
    with pytest.raises(ValueError, match="must be a whole number of at least 1"):
        datasets.image_folder(tmp_path, **{"patch": 8, **arguments})


# --- which files --------------------------------------------------------------------------------------

def test_image_files_are_sorted_filtered_by_extension_in_any_case_and_hidden_files_left_out(tmp_path):
    for name in ["b.JPG", "a.png", "c.Tiff", "d.webp", "e.bmp", "f.gif", "g.jpeg", "h.tif"]:
        (tmp_path / name).write_bytes(b"")  # image_files looks at names only
    for name in ["notes.txt", "model.npz", ".hidden.png", "._b.JPG", "noext"]:
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "folder.png").mkdir()        # a folder is not an image file, whatever its name
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "z.png").write_bytes(b"")
    names = [p.name for p in datasets.image_files(tmp_path)]
    assert names == ["a.png", "b.JPG", "c.Tiff", "d.webp", "e.bmp", "f.gif", "g.jpeg", "h.tif"]
    assert all(p.parent == tmp_path for p in datasets.image_files(tmp_path))


def test_recursive_also_reads_subfolders_sorted_by_relative_path_but_not_hidden_ones(tmp_path):
    constant(tmp_path / "top.png", 16, 16, 51)
    constant(tmp_path / "city" / "night.png", 16, 16, 102)
    constant(tmp_path / ".thumbnails" / "t.png", 16, 16, 153)
    found = [p.relative_to(tmp_path).as_posix() for p in datasets.image_files(tmp_path, recursive=True)]
    assert found == ["city/night.png", "top.png"]
    assert [p.name for p in datasets.image_files(tmp_path)] == ["top.png"]
    x = datasets.image_folder(tmp_path, patch=8, count=20, recursive=True)
    assert sources(x, {"top.png": 51, "city/night.png": 102}) == {"top.png": 10, "city/night.png": 10}


def test_image_files_of_a_missing_folder_raises_and_of_a_folder_without_images_is_empty(tmp_path):
    with pytest.raises(DataNotFoundError, match="no such folder"):
        datasets.image_files(tmp_path / "nope")
    assert datasets.image_files(tmp_path) == []


# --- holding out whole images -------------------------------------------------------------------------

def test_exclude_holds_out_whole_images_by_name(tmp_path):
    constant(tmp_path / "kodim01.png", 32, 32, 51)
    constant(tmp_path / "kodim02.png", 32, 32, 102)
    constant(tmp_path / "kodim23.png", 32, 32, 153)
    values = {"kodim01.png": 51, "kodim02.png": 102, "kodim23.png": 153}
    x = datasets.image_folder(tmp_path, patch=8, count=60, exclude=["kodim23.png"])
    assert sources(x, values) == {"kodim01.png": 30, "kodim02.png": 30, "kodim23.png": 0}
    y = datasets.image_folder(tmp_path, patch=8, count=60, exclude="kodim23.png")  # one name as a string
    np.testing.assert_array_equal(x, y)
    z = datasets.image_folder(tmp_path, patch=8, count=60, exclude=[tmp_path / "kodim23.png"])  # absolute path
    np.testing.assert_array_equal(x, z)


def test_exclude_takes_paths_relative_to_the_folder_when_recursive(tmp_path):
    constant(tmp_path / "a" / "x.png", 16, 16, 51)
    constant(tmp_path / "b" / "x.png", 16, 16, 102)
    x = datasets.image_folder(tmp_path, patch=8, count=10, recursive=True, exclude=["b/x.png"])
    assert sources(x, {"a/x.png": 51, "b/x.png": 102}) == {"a/x.png": 10, "b/x.png": 0}


def test_excluding_a_name_that_is_not_an_image_of_the_folder_is_an_error_listing_its_images(tmp_path):
    constant(tmp_path / "kodim01.png", 16, 16, 51)
    with pytest.raises(ValueError, match=r"exclude names 'kodim23.png', which is not an image file of") as caught:
        datasets.image_folder(tmp_path, patch=8, exclude=["kodim23.png"])
    assert "kodim01.png" in str(caught.value)


def test_excluding_every_image_is_an_error(tmp_path):
    constant(tmp_path / "a.png", 16, 16, 51)
    with pytest.raises(ValueError, match="every image file of .* is excluded"):
        datasets.image_folder(tmp_path, patch=8, exclude=["a.png"])
