import numpy as np
import pytest
import soundfile as sf

from audiogender.audio import (
    N_SAMPLES,
    SAMPLE_RATE,
    TARGET_RMS,
    AudioError,
    load_audio,
    loud_level,
    normalize_level,
    quantile,
    remove_dc,
    stream_audio,
)
from audiogender.paths import find_audio_files
from helpers import SAMPLES, SHARED, encode, harmonic_tone


@pytest.mark.parametrize(
    "name, seconds",
    [("cmu_arctic_us_aew_a0001.wav", 3.88), ("198-209-0000.ogg", 13.91), ("p240_00000.mp3", 4.94)],
)
def test_reads_wav_ogg_and_mp3_as_mono_float32_at_16k(name, seconds):
    audio = load_audio(SAMPLES / name)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert audio.size / SAMPLE_RATE == pytest.approx(seconds, abs=0.06)
    assert 0.01 < np.abs(audio).max() <= 1.0


def test_stereo_at_44k1_is_averaged_and_resampled(tmp_path):
    left = harmonic_tone(200, 0.5, 44_100)
    path = tmp_path / "stereo.flac"
    sf.write(path, np.stack([left, np.zeros_like(left)], axis=1), 44_100)
    audio = load_audio(path)
    assert audio.size == pytest.approx(8_000, abs=2)
    assert np.abs(audio).max() == pytest.approx(np.abs(left).max() / 2, rel=0.05)


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda p: p.write_bytes(b""), "not a readable audio file"),
        (lambda p: p.write_bytes(np.random.default_rng(0).bytes(4000)), "not a readable audio file"),
        (lambda p: sf.write(p, np.zeros(0, dtype=np.float32), 16_000), "no samples"),
        (lambda p: sf.write(p, np.full(800, np.nan, dtype=np.float32), 16_000, subtype="FLOAT"), "not finite"),
    ],
    ids=["empty file", "random bytes", "zero samples", "NaN samples"],
)
def test_bad_files_raise_an_error_naming_the_file(tmp_path, make, reason):
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(AudioError, match=reason) as error:
        load_audio(path)
    assert str(path) in str(error.value)


def test_missing_file_and_directory_are_named(tmp_path):
    with pytest.raises(AudioError, match="no such file"):
        load_audio(tmp_path / "nothing.wav")
    with pytest.raises(AudioError, match="directory"):
        load_audio(tmp_path)


def test_dc_offset_is_removed_and_level_normalised():
    quiet = 0.01 * harmonic_tone(150) - 0.085  # the az corpus' offset on a quiet voice
    centred = remove_dc(quiet)
    assert abs(centred.mean()) < 1e-6
    assert loud_level(normalize_level(centred)) == pytest.approx(TARGET_RMS, rel=0.01)


def test_silence_is_left_silent():
    silence = np.zeros(N_SAMPLES, dtype=np.float32)
    assert np.array_equal(normalize_level(silence), silence)


def test_find_audio_files_walks_folders_and_keeps_named_files(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("a/x.wav", "a/b/y.FLAC", "a/notes.txt"):
        (tmp_path / name).write_bytes(b"")
    found = find_audio_files([tmp_path / "a", tmp_path / "a" / "notes.txt"])
    assert [p.name for p in found] == ["y.FLAC", "x.wav", "notes.txt"]


def test_streaming_in_blocks_gives_the_same_samples_as_reading_whole():
    path = SAMPLES / "198-209-0000.ogg"  # 22.05 kHz: resampled block by block
    blocks = list(stream_audio(path, block_seconds=3))
    assert len(blocks) == 5 and all(b.dtype == np.float32 for b in blocks)
    np.testing.assert_array_equal(np.concatenate(blocks), load_audio(path))


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda p: sf.write(p, np.zeros(0, dtype=np.float32), 16_000), "no samples"),
        (lambda p: sf.write(p, np.full(800, np.nan, dtype=np.float32), 16_000, subtype="FLOAT"), "not finite"),
        (lambda p: p.write_bytes(b"RIFF"), "not a readable audio file"),
    ],
    ids=["zero samples", "NaN samples", "truncated header"],
)
def test_streaming_names_bad_files_too(tmp_path, make, reason):
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(AudioError, match=reason):
        list(stream_audio(path))


@pytest.mark.parametrize(
    "name, codec, container, layout, video",
    [
        ("memo.m4a", "aac", "mp4", "mono", False),  # a phone's voice memo
        ("browser.webm", "libopus", "webm", "stereo", False),  # what MediaRecorder gives in Chrome and Firefox
        ("clip.mp4", "aac", "mp4", "stereo", True),  # the sound of a video
    ],
)
def test_formats_libsndfile_cannot_read_are_decoded_by_ffmpeg(tmp_path, name, codec, container, layout, video):
    voice = load_audio(SAMPLES / "cmu_arctic_us_axb_a0004.wav")
    encode(tmp_path / name, voice, codec, container, layout, video=video)
    audio = load_audio(tmp_path / name)
    assert audio.size == pytest.approx(voice.size, abs=0.05 * SAMPLE_RATE)  # codecs add a few ms of priming
    assert loud_level(audio) == pytest.approx(loud_level(voice), rel=0.2)
    assert [p.name for p in find_audio_files([tmp_path])] == [name]


def test_a_file_no_decoder_can_read_names_both_reasons(tmp_path):
    (tmp_path / "memo.m4a").write_bytes(b"\x00\x00\x00\x18ftypM4A " + bytes(200))  # a header, then nothing
    with pytest.raises(AudioError, match="not a readable audio file \\(libsndfile: .*; FFmpeg: .*\\)"):
        load_audio(tmp_path / "memo.m4a")


@pytest.mark.shared
@pytest.mark.skipif(not SHARED.exists(), reason="../shared/data is absent")
def test_every_recording_of_the_shared_data_reads():
    import csv

    failed = {}
    for manifest in sorted(SHARED.glob("*/manifest.csv")):
        for row in csv.DictReader(manifest.open()):
            try:
                assert load_audio(manifest.parent / row["path"]).size > 0
            except AudioError as error:
                failed[str(error)] = row["path"]
    assert failed == {}


def test_a_header_claiming_an_absurd_rate_is_refused(tmp_path):
    sf.write(tmp_path / "fast.wav", harmonic_tone(150, 1.0), 16_000, subtype="PCM_16")
    data = bytearray((tmp_path / "fast.wav").read_bytes())
    data[24:28] = (10**9).to_bytes(4, "little")  # the sample rate field of a canonical WAV header
    (tmp_path / "fast.wav").write_bytes(bytes(data))
    with pytest.raises(AudioError, match="sample rate"):
        load_audio(tmp_path / "fast.wav")


def test_bad_files_say_so_plainly_and_leave_stderr_clean(tmp_path):
    import subprocess
    import sys

    (tmp_path / "random.mp3").write_bytes(np.random.default_rng(2).bytes(5000))
    huge = np.full((16_000, 2), 3.4e38, np.float32)
    huge[::100] = -3.4e38
    sf.write(tmp_path / "huge.wav", huge, 16_000, subtype="FLOAT")
    code = f"import audiogender.cli as c; raise SystemExit(c.main(['predict', {str(tmp_path)!r}, '--format', 'csv']))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and result.stderr == "", result.stderr
    rows = {line.split(",")[0].rsplit("/", 1)[-1]: line for line in result.stdout.splitlines()[1:]}
    assert "not a readable audio file" in rows["random.mp3"] and "File does not exist" not in rows["random.mp3"]
    assert rows["huge.wav"].split(",")[-1] == ""  # read and judged, no error


@pytest.mark.parametrize("size", [1, 2, 3, 98, 1001])
def test_quantile_is_numpys(size):
    values = np.random.default_rng(size).standard_normal(size) * 10
    for q in (0.0, 0.25, 0.75, 0.95, 1.0):
        assert quantile(values, q) == pytest.approx(float(np.quantile(values, q)), rel=1e-12, abs=1e-12)
