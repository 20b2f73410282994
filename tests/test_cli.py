"""The command line, run as a user runs it: ``python -m tinyae ...`` in a subprocess.

Each run gets the repository on PYTHONPATH and a temporary working folder. The
training runs use the generated ``shapes`` data (no files needed) and ``--limit`` to
stay fast; one run uses the real MNIST files when they are present (skipped otherwise).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
OUTPUTS = ("model.npz", "history.json", "loss.png", "reconstructions.png")


def run_tinyae(*args, cwd, env_extra=None, code=None):
    """Run ``python -m tinyae *args`` (or ``python -c code``) in ``cwd``; returns the CompletedProcess."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env["TINYAE_OFFLINE"] = "1"                     # a test never downloads
    env["MPLBACKEND"] = "Agg"
    env.update(env_extra or {})
    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "tinyae", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def assert_one_line_error(result, *words):
    """Exit status 2, no traceback, and a message that contains every one of ``words``."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One quick training run on 512 shapes images, shared by the tests that read its outputs."""
    work = tmp_path_factory.mktemp("cli")
    result = run_tinyae("train", "--model", "dense", "--dataset", "shapes", "--epochs", "1", "--limit", "512",
                        "--out", "run", cwd=work)
    return work, result


def test_train_writes_every_output_and_reports_per_pixel_mse(trained):
    work, result = trained
    assert result.returncode == 0, result.stderr
    out = work / "run"
    for name in OUTPUTS:
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert "total parameters: 402,448" in result.stdout          # the model summary comes first
    assert "test MSE:" in result.stdout and "per pixel" in result.stdout
    assert "s per epoch" in result.stdout
    for name in OUTPUTS:
        assert str(Path("run") / name) in result.stdout          # every path written is printed
    assert (out / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_train_history_json_has_one_epoch_and_the_run_settings(trained):
    work, _ = trained
    record = json.loads((work / "run" / "history.json").read_text())
    assert record["epochs"] == [1]
    assert len(record["loss"]) == 1 and len(record["val_loss"]) == 1 and len(record["seconds"]) == 1
    assert record["loss_name"] == "MSE"
    run = record["run"]
    assert run["model"] == "dense" and run["dataset"] == "shapes" and run["train_images"] == 512
    assert run["test_images"] == 2000
    assert run["test_mse_per_pixel"] == pytest.approx(record["val_loss"][-1])
    import tinyae
    assert tinyae.History.from_dict(record).loss == record["loss"]   # history.json reads back as a History


def test_trained_model_file_loads_without_pickle(trained):
    work, _ = trained
    with np.load(work / "run" / "model.npz", allow_pickle=False) as data:
        assert "__architecture__" in data.files and "encoder.1.W" in data.files


def test_reconstruct_writes_the_grid_and_prints_the_mse(trained):
    work, _ = trained
    result = run_tinyae("reconstruct", "--model-file", "run/model.npz", "--dataset", "shapes", "--out", "recon.png",
                        "--n", "6", "--limit", "300", cwd=work)
    assert result.returncode == 0, result.stderr
    assert (work / "recon.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "test MSE:" in result.stdout and "per pixel" in result.stdout and "300 test images" in result.stdout


@pytest.mark.parametrize("command, example", [
    ((), "tinyae train --model dense --dataset mnist --epochs 5 --out runs/dense"),
    (("train",), "tinyae train --model dense --dataset mnist --epochs 5 --out runs/dense"),
    (("reconstruct",), "tinyae reconstruct --model-file runs/dense/model.npz --dataset mnist --out recon.png"),
    (("gradcheck",), "tinyae gradcheck"),
    (("models",), "tinyae models"),
])
def test_help_describes_the_command_and_shows_an_example(command, example, tmp_path):
    result = run_tinyae(*command, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert example in result.stdout
    assert "example" in result.stdout
    description = result.stdout.split("\n\n")[1]                # the paragraph after the usage line(s)
    assert len(description.split()) >= 10, description


def test_unknown_model_is_a_one_line_error_with_exit_status_2(tmp_path):
    result = run_tinyae("train", "--model", "nosuchmodel", "--dataset", "shapes", "--out", "run", cwd=tmp_path)
    assert_one_line_error(result, "tinyae: error:", "nosuchmodel", "dense")
    assert not (tmp_path / "run").exists()


def test_unknown_dataset_is_a_one_line_error(tmp_path):
    result = run_tinyae("train", "--dataset", "cifar", "--out", "run", cwd=tmp_path)
    assert_one_line_error(result, "tinyae: error:", "cifar", "mnist")


def test_bad_argument_value_is_a_one_line_usage_error(tmp_path):
    result = run_tinyae("train", "--lr", "-1", "--out", "run", cwd=tmp_path)
    assert_one_line_error(result, "--lr", "positive")


def test_missing_data_names_the_places_searched_without_traceback(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_tinyae("train", "--dataset", "fashion_mnist", "--data-dir", str(empty), "--no-download",
                        "--out", "run", cwd=tmp_path,
                        env_extra={"TINYAE_DATA_DIR": str(empty), "XDG_CACHE_HOME": str(tmp_path / "cache"),
                                   "HOME": str(tmp_path)})
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("tinyae: error:") and str(empty) in result.stderr
    assert "--data-dir" in result.stderr


def test_missing_model_file_is_a_one_line_error(tmp_path):
    result = run_tinyae("reconstruct", "--model-file", "nothere.npz", "--dataset", "shapes", "--out", "r.png",
                        cwd=tmp_path)
    assert_one_line_error(result, "tinyae: error:", "nothere.npz")


def test_models_lists_each_zoo_model_on_one_line(tmp_path):
    from tinyae import models
    result = run_tinyae("models", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == len(models.ZOO)
    for name in models.ZOO:
        line = next(l for l in lines if l.split()[0] == name)
        model = models.build(name)
        assert f"{model.num_parameters():,} parameters" in line
        assert str(tuple(model.input_shape)) in line


def test_without_matplotlib_tinyae_imports_and_plot_says_how_to_install(tmp_path):
    code = ("import sys; sys.modules['matplotlib'] = None\n"   # makes `import matplotlib` fail
            "import tinyae, tinyae.cli, tinyae.plot\n"
            "try:\n"
            "    tinyae.plot.loss_curves({'loss': [1.0]})\n"
            "except ImportError as exc:\n"
            "    print(exc)\n")
    result = run_tinyae(cwd=tmp_path, code=code)
    assert result.returncode == 0, result.stderr
    assert 'pip install -e ".[plot]"' in result.stdout


@pytest.mark.slow
def test_train_on_real_mnist(data_dir, tmp_path):
    result = run_tinyae("train", "--model", "dense", "--dataset", "mnist", "--epochs", "3", "--limit", "1000",
                        "--batch-size", "32", "--quiet", "--out", "run", cwd=tmp_path,
                        env_extra={"TINYAE_DATA_DIR": str(data_dir)})
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""                                  # --quiet: no progress bar
    for name in OUTPUTS:
        assert (tmp_path / "run" / name).is_file(), name
    record = json.loads((tmp_path / "run" / "history.json").read_text())
    assert record["run"]["train_images"] == 1000 and record["run"]["test_images"] == 10000
    # Reference points on the MNIST test set, MSE per pixel: the untrained model 0.234, an all-black
    # output 0.114, the mean test image 0.067. Three epochs on 1000 digits reach about 0.040.
    assert len(record["epochs"]) == 3
    assert 0.0 < record["run"]["test_mse_per_pixel"] < 0.055


def test_train_with_every_then_resume_equals_an_uninterrupted_run(tmp_path):
    from tinyae import models
    common = ("train", "--model", "dense", "--dataset", "shapes", "--limit", "512", "--quiet")
    first = run_tinyae(*common, "--epochs", "2", "--every", "1", "--out", "a", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "a" / "checkpoint.npz").is_file()
    resumed = run_tinyae(*common, "--epochs", "3", "--resume", "a/checkpoint.npz", "--out", "b", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    straight = run_tinyae(*common, "--epochs", "3", "--out", "c", cwd=tmp_path)
    assert straight.returncode == 0, straight.stderr
    b, c = models.load(tmp_path / "b" / "model.npz"), models.load(tmp_path / "c" / "model.npz")
    for (name, pb), pc in zip(b.named_parameters().items(), c.parameters()):
        assert np.array_equal(pb.data, pc.data), name
    assert len(json.loads((tmp_path / "b" / "history.json").read_text())["loss"]) == 3


# --- the autoencoder family on the command line -----------------------------------------------------

def test_train_a_vae_prints_its_objective_in_nats_per_image_and_writes_samples(tmp_path):
    result = run_tinyae("train", "--model", "vae2d", "--dataset", "shapes", "--epochs", "1", "--limit", "256",
                        "--out", "run", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "nats per image (BCE" in result.stdout and "+ KL" in result.stdout and "z drawn from q" in result.stdout
    assert (tmp_path / "run" / "samples.png").is_file()
    record = json.loads((tmp_path / "run" / "history.json").read_text())
    assert record["units"] == "per image" and record["run"]["objective_units"] == "nats per image"
    assert all(p > 0 for p in record["penalty"])                     # the KL, reported apart
    sample = run_tinyae("sample", "--model-file", "run/model.npz", "--n", "12", "--out", "s.png",
                        "--manifold", "m.png", cwd=tmp_path)
    assert sample.returncode == 0, sample.stderr
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG" and (tmp_path / "m.png").is_file()
    assert "decoded 12 codes z ~ N(0, I) of 2 numbers each" in sample.stdout


def test_sample_refuses_a_plain_autoencoder(trained):
    work, _ = trained
    result = run_tinyae("sample", "--model-file", "run/model.npz", "--out", "s.png", cwd=work)
    assert_one_line_error(result, "sampling needs a variational autoencoder", "plain Autoencoder")


def test_train_with_noise_then_denoise_prints_psnr_before_and_after(tmp_path):
    result = run_tinyae("train", "--model", "dense", "--dataset", "shapes", "--epochs", "2", "--limit", "4000",
                        "--batch-size", "32", "--noise", "gaussian:0.3", "--out", "run", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "test PSNR:" in result.stdout and "dB noisy ->" in result.stdout
    record = json.loads((tmp_path / "run" / "history.json").read_text())["run"]
    assert record["noise"] == "gaussian:0.3" and record["test_psnr_restored_db"] > record["test_psnr_noisy_db"]
    denoised = run_tinyae("denoise", "--model-file", "run/model.npz", "--dataset", "shapes", "--noise", "gaussian:0.3",
                          "--limit", "200", "--out", "grid.png", cwd=tmp_path)
    assert denoised.returncode == 0, denoised.stderr
    assert "PSNR:" in denoised.stdout and "SSIM:" in denoised.stdout and (tmp_path / "grid.png").is_file()


def test_fresh_noise_puts_a_corruption_layer_first_in_the_encoder(tmp_path):
    result = run_tinyae("train", "--model", "dense", "--dataset", "shapes", "--epochs", "1", "--limit", "256",
                        "--noise", "masking:0.3", "--noise-mode", "fresh", "--out", "run", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    code = ("from tinyae import models; m = models.load('run/model.npz'); "
            "print(type(m.encoder[0]).__name__, m.encoder[0].amount)")
    assert run_tinyae(cwd=tmp_path, code=code).stdout.split() == ["MaskingNoise", "0.3"]


@pytest.mark.parametrize("spec, words", [("gauss:0.4", ["unknown kind 'gauss'"]), ("masking:2", ["[0, 1)"])])
def test_a_bad_noise_spec_is_a_one_line_usage_error(tmp_path, spec, words):
    result = run_tinyae("train", "--model", "dense", "--dataset", "shapes", "--noise", spec, "--out", "run",
                        cwd=tmp_path)
    assert_one_line_error(result, "--noise", *words)


# --- uses: probe and anomaly ---------------------------------------------------------------------------

def test_probe_prints_the_accuracy_table_with_pixel_and_pca_baselines(trained):
    work, _ = trained
    result = run_tinyae("probe", "--model-file", "run/model.npz", "--dataset", "shapes", "--labels", "30,90",
                        "--seeds", "2", "--steps", "100", cwd=work)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    table = lines[lines.index(next(l for l in lines if l.startswith("features"))):]
    assert "30 labels" in table[0] and "90 labels" in table[0]
    assert any(l.startswith("dense codes (256 numbers)") for l in table)
    assert any(l.startswith("raw pixels (784)") for l in table) and any(l.startswith("PCA-256") for l in table)
    assert "±" in table[1] and "%" in table[1]


def test_anomaly_trains_on_one_class_prints_the_auc_and_writes_its_figures(tmp_path):
    result = run_tinyae("anomaly", "--model", "deep16", "--normal", "1", "--dataset", "shapes", "--epochs", "2",
                        "--out", "an", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "deep16: AUC 0." in result.stdout and "PCA-32: AUC 0." in result.stdout and "flagged" in result.stdout
    for name in ("roc.png", "histograms.png", "most_anomalous.png", "least_anomalous.png"):
        assert (tmp_path / "an" / name).read_bytes()[:4] == b"\x89PNG", name


@pytest.mark.parametrize("args, words", [(["--labels", "10,x"], ["--labels", "'x'"])])
def test_probe_with_bad_label_counts_is_a_one_line_error(trained, args, words):
    work, _ = trained
    assert_one_line_error(run_tinyae("probe", "--model-file", "run/model.npz", "--dataset", "shapes", *args, cwd=work),
                          *words)


def test_anomaly_with_a_class_that_does_not_exist_is_a_one_line_error(tmp_path):
    assert_one_line_error(run_tinyae("anomaly", "--normal", "7", "--dataset", "shapes", "--out", "an", cwd=tmp_path),
                          "--normal must be a class of shapes, 0..2")


def test_label_counts_parse_numbers_and_all():
    from tinyae.cli.uses import _label_sizes
    assert _label_sizes("100, 1000,all") == [100, 1000, None]


# --- image files through a saved model (--images) ------------------------------------------------------------

@pytest.fixture
def image_files(tmp_path):
    """Untrained conv, conv_rgb and dense models saved in tmp_path, a 29×37 grey PNG and a 28×28 RGB JPEG."""
    pytest.importorskip("PIL")
    from tinyae import images, models
    for name in ("conv", "conv_rgb", "dense"):
        models.save(models.build(name), tmp_path / f"{name}.npz")
    rng = np.random.default_rng(0)
    images.write(tmp_path / "a.png", rng.random((1, 29, 37), dtype=np.float32))
    images.write(tmp_path / "b.jpg", rng.random((3, 28, 28), dtype=np.float32), quality=90)
    return tmp_path


def test_reconstruct_image_files_with_a_conv_model_keeps_each_size_and_prints_psnr_per_image(image_files):
    from tinyae import images
    result = run_tinyae("reconstruct", "--model-file", "conv.npz", "--images", "a.png", "b.jpg", "--out", "r.png",
                        "--out-images", "out", cwd=image_files)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("a.png: 29×37, padded to 32×40 (stride 4) and cropped back: PSNR ") and " dB" in lines[0]
    assert lines[1].startswith("b.jpg: 28×28: PSNR ")
    assert "mean PSNR:" in result.stdout and (image_files / "r.png").read_bytes()[:4] == b"\x89PNG"
    assert images.read(image_files / "out" / "a.png").shape == (1, 1, 29, 37)     # the image's own size, grey
    assert images.read(image_files / "out" / "b.png").shape == (1, 1, 28, 28)     # a grey model: RGB read as grey


def test_reconstruct_refuses_an_image_of_another_size_for_a_dense_model_unless_resize(image_files):
    refused = run_tinyae("reconstruct", "--model-file", "dense.npz", "--images", "a.png", "--out", "r.png",
                         cwd=image_files)
    assert_one_line_error(refused, "a.png: the image is 29×37 pixels", "takes 28×28 images only", "pass --resize")
    resized = run_tinyae("reconstruct", "--model-file", "dense.npz", "--images", "a.png", "--resize", "--out", "r.png",
                         cwd=image_files)
    assert resized.returncode == 0, resized.stderr
    assert resized.stdout.startswith("a.png: 29×37 resized to 28×28: PSNR ")


def test_denoise_image_files_prints_psnr_noisy_and_restored_and_writes_both(image_files):
    result = run_tinyae("denoise", "--model-file", "conv_rgb.npz", "--images", "a.png", "b.jpg", "--noise",
                        "gaussian:0.3", "--out", "d.png", "--out-images", "dn", cwd=image_files)
    assert result.returncode == 0, result.stderr
    assert "a.png: 29×37, padded to 32×40" in result.stdout and "dB noisy ->" in result.stdout
    assert "PSNR:" in result.stdout and (image_files / "d.png").is_file()
    assert sorted(p.name for p in (image_files / "dn").iterdir()) == ["a.noisy.png", "a.restored.png", "b.noisy.png",
                                                                       "b.restored.png"]


@pytest.mark.parametrize("args, words", [
    (["--images", "a.png", "--dataset", "shapes"], ["give --dataset or --images, not both"]),
    (["--images", "nothere.png"], ["nothere.png: no such image file"]),
    (["--images", "notes.png"], ["notes.png: not an image file Pillow can read"]),
    (["--dataset", "shapes", "--resize"], ["--resize is for --images"]),
])
def test_bad_image_file_arguments_are_one_line_errors(image_files, args, words):
    (image_files / "notes.png").write_text("not a picture\n")
    assert_one_line_error(run_tinyae("reconstruct", "--model-file", "conv.npz", *args, "--out", "r.png",
                                     cwd=image_files), *words)


def test_images_without_pillow_is_a_one_line_error_saying_how_to_install(image_files):
    code = ("import sys; sys.modules['PIL'] = None\n"
            "from tinyae.cli import main\n"
            "sys.exit(main(['reconstruct', '--model-file', 'conv.npz', '--images', 'a.png', '--out', 'r.png']))\n")
    assert_one_line_error(run_tinyae(code=code, cwd=image_files), 'pip install -e ".[images]"')


# --- compress and decompress ------------------------------------------------------------------------------------

@pytest.fixture
def codec_files(tmp_path):
    """Untrained codec and codec_conv models saved in tmp_path, and a 28×28 and a 37×45 grey PNG."""
    pytest.importorskip("PIL")
    from tinyae import images, models
    models.save(models.zoo.codec(seed=0, code=16), tmp_path / "codec.npz")
    models.save(models.zoo.codec(seed=1, code=16), tmp_path / "other.npz")
    models.save(models.zoo.codec_conv(seed=0, channels=4), tmp_path / "conv.npz")
    rng = np.random.default_rng(0)
    images.write(tmp_path / "digit.png", rng.random((1, 28, 28), dtype=np.float32))
    images.write(tmp_path / "photo.png", rng.random((1, 37, 45), dtype=np.float32))
    return tmp_path


def test_compress_writes_a_tae_file_and_prints_bytes_bpp_and_psnr_then_decompress_writes_pngs(codec_files):
    from tinyae import images
    from tinyae.coding import tae
    result = run_tinyae("compress", "--model-file", "codec.npz", "--dataset", "shapes", "--count", "12",
                        "-o", "shapes.tae", cwd=codec_files)
    assert result.returncode == 0, result.stderr
    size = (codec_files / "shapes.tae").stat().st_size
    assert f"{size:,} bytes" in result.stdout and "bits per pixel (whole file)" in result.stdout
    assert "PSNR" in result.stdout and " dB" in result.stdout
    assert tae.read(codec_files / "shapes.tae").count == 12
    result = run_tinyae("decompress", "shapes.tae", "--model-file", "codec.npz", "-o", "out", cwd=codec_files)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (codec_files / "out").iterdir()) == [f"image_{i:04d}.png" for i in range(12)]
    assert images.read(codec_files / "out" / "image_0000.png").shape == (1, 1, 28, 28)


def test_a_conv_codec_compresses_an_image_file_of_any_size_and_gives_it_back_at_that_size(codec_files):
    from tinyae import images
    result = run_tinyae("compress", "--model-file", "conv.npz", "photo.png", "-o", "photo.tae", cwd=codec_files)
    assert result.returncode == 0, result.stderr
    result = run_tinyae("decompress", "photo.tae", "--model-file", "conv.npz", "-o", "out", "--reference",
                        "photo.png", cwd=codec_files)
    assert result.returncode == 0, result.stderr
    assert "PSNR against the reference images" in result.stdout
    assert images.read(codec_files / "out" / "image_0000.png").shape == (1, 1, 37, 45)


def test_decompress_with_another_model_is_a_one_line_error_naming_both_fingerprints(codec_files):
    assert run_tinyae("compress", "--model-file", "codec.npz", "digit.png", "-o", "d.tae",
                      cwd=codec_files).returncode == 0
    result = run_tinyae("decompress", "d.tae", "--model-file", "other.npz", "-o", "out", cwd=codec_files)
    assert_one_line_error(result, "d.tae", "another model", "other.npz", "fingerprint")


@pytest.mark.parametrize("args, words", [
    ((), ["nothing to compress"]),
    (("photo.png",), ["cannot compress images of 1×37×45", "resize"]),
    (("digit.png", "--dataset", "shapes"), ["not both"]),
])
def test_bad_compress_arguments_are_one_line_errors(codec_files, args, words):
    result = run_tinyae("compress", "--model-file", "codec.npz", *args, "-o", "x.tae", cwd=codec_files)
    assert_one_line_error(result, *words)


def test_decompress_of_a_damaged_file_is_a_one_line_error(codec_files):
    assert run_tinyae("compress", "--model-file", "codec.npz", "digit.png", "-o", "d.tae",
                      cwd=codec_files).returncode == 0
    data = bytearray((codec_files / "d.tae").read_bytes())
    data[-6] ^= 0x10                                          # one bit of the payload
    (codec_files / "bad.tae").write_bytes(bytes(data))
    result = run_tinyae("decompress", "bad.tae", "--model-file", "codec.npz", "-o", "out", cwd=codec_files)
    assert_one_line_error(result, "bad.tae", "payload is damaged")
