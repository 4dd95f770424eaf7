import shutil
import sys

import numpy as np
import pytest
import soundfile as sf
import soxr

import audiogender
from audiogender import load_audio
from audiogender.labels import NO_VOICE
from helpers import AUDIOMNIST_SAMPLE, SAMPLES, SHARED, harmonic_tone, manifest


@pytest.fixture(scope="module", params=["encoder", "cnn"])
def model(request):
    """Each shipped model in turn: what is said of prediction holds for both."""
    return audiogender.load_model(kind=request.param, device="cpu")


@pytest.fixture(scope="module")
def cnn():
    return audiogender.load_model(kind="cnn", device="cpu")


def test_shipped_model_classifies_the_voices_the_repo_ships(model):
    voices = [row for row in manifest(SAMPLES) if row["gender"] != "none"]
    predictions = [model.predict(row["path"]) for row in voices]
    correct = sum(p.label == row["gender"] for p, row in zip(predictions, voices))
    assert all(0 <= p.p_female <= 1 for p in predictions)
    assert correct >= len(voices) - 2, [(p.path, p.label, p.p_female) for p in predictions]


def test_arrays_at_any_rate_stereo_and_silence(model):
    speech = load_audio(SAMPLES / "cmu_arctic_us_axb_a0005.wav")
    at_44k = soxr.resample(speech, 16_000, 44_100)
    answer = model.predict(np.stack([at_44k, at_44k], axis=1), sample_rate=44_100)
    assert answer.label == "female" and answer.duration_seconds == pytest.approx(speech.size / 16_000, abs=0.01)
    assert 0.5 < answer.speech_seconds <= answer.duration_seconds
    for silent in (np.zeros(32_000, np.float32), np.full(16_000, -0.085, np.float32)):  # a DC offset is not a voice
        assert model.predict(silent).label == NO_VOICE


def test_a_buzz_and_birdsong_are_no_voice(model):
    assert model.predict(harmonic_tone(120, 2.0)).label == NO_VOICE
    robin = model.predict(SAMPLES / "456440__inspectorj__bird-whistling-robin-single-13.ogg")
    assert robin.label == NO_VOICE and robin.p_female is None and robin.speech_seconds < 0.25


def test_quiet_speech_is_still_heard(model):
    clip = load_audio(AUDIOMNIST_SAMPLE / "data" / "01" / "0_01_0.wav")  # peaks near 0.01
    assert np.abs(clip).max() < 0.05
    assert model.predict(clip).label == "male"


def test_a_batch_goes_on_past_a_bad_file(model, tmp_path):
    (tmp_path / "broken.wav").write_bytes(b"RIFF\x00\x00")
    shutil.copy(SAMPLES / "p260_00000.mp3", tmp_path / "voice.mp3")
    results = list(model.predict_files([tmp_path / "broken.wav", tmp_path / "voice.mp3"]))
    assert results[0].error and "not a readable audio file" in results[0].error and results[0].label is None
    assert results[1].error is None and results[1].label == "male"


@pytest.mark.skipif(not (SHARED / "samples").exists(), reason="../shared/data is absent")
def test_shared_samples_including_the_two_without_a_voice(model):
    rows = manifest(SHARED / "samples")
    predictions = {p.path: p for p in model.predict_files([row["path"] for row in rows])}
    assert all(p.error is None for p in predictions.values())
    assert all(predictions[row["path"]].label == NO_VOICE for row in rows if row["gender"] == "none")
    wrong = [row["path"] for row in rows if row["gender"] != "none" and predictions[row["path"]].label != row["gender"]]
    assert wrong == []  # these voices were among the shipped model's training or validation speakers


def test_labels_inside_the_uncertain_band_and_segments_of_a_long_stretch():
    wide = audiogender.load_model(device="cpu", uncertain_band=(0.0, 1.0))
    assert wide.predict(SAMPLES / "p260_00000.mp3").label == "uncertain"
    timeline = wide.segment(SAMPLES / "3436-172162-0000.ogg")  # 16.7 s of read speech
    assert len(timeline.segments) >= 3 and all(s.end - s.start <= 5.0 + 1e-6 for s in timeline.segments)
    assert sum(timeline.speaking_seconds().values()) == pytest.approx(sum(s.end - s.start for s in timeline.segments), abs=0.05)


def test_a_recordings_answer_is_the_mean_log_odds_of_its_windows_not_the_mean_probability(cnn):
    from audiogender.labels import sigmoid
    from audiogender.windows import voiced_block

    voiced = voiced_block(load_audio(SAMPLES / "3436-172162-0000.ogg"), cnn.features)  # 16.7 s: many windows
    log_odds = cnn.network.log_odds(voiced.features)
    assert len(log_odds) > 20 and log_odds.std() > 0.1  # windows disagree, so the two means differ
    answer = cnn.predict(SAMPLES / "3436-172162-0000.ogg").p_female
    assert answer == pytest.approx(float(sigmoid(log_odds.mean())), abs=1e-4)
    assert abs(answer - float(sigmoid(log_odds).mean())) > 1e-3


def test_the_encoder_judges_a_recording_by_its_mean_embedding():
    from audiogender.labels import sigmoid
    from audiogender.runtime import unit_mean
    from audiogender.windows import voiced_block

    encoder = audiogender.load_model(kind="encoder", device="cpu")
    voiced = voiced_block(load_audio(SAMPLES / "3436-172162-0000.ogg"), encoder.features)
    embeddings = encoder.window_outputs(voiced.features)
    assert embeddings.shape == (len(voiced.features), 256) and len(embeddings) > 10
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-4)
    answer = encoder.predict(SAMPLES / "3436-172162-0000.ogg").p_female
    assert answer == pytest.approx(float(sigmoid(encoder.network.judge(unit_mean(embeddings)[None])[0])), abs=1e-4)
    assert abs(answer - float(sigmoid(encoder.network.judge(embeddings).mean()))) > 1e-4  # not a mean of windows' answers


def test_a_recording_longer_than_a_block_is_judged_whole(model, tmp_path):
    woman = load_audio(SAMPLES / "cmu_arctic_us_axb_a0004.wav")
    pause = np.zeros(8_000, np.float32)
    long = np.tile(np.concatenate([woman, pause]), 25)  # about 80 s: two blocks
    sf.write(tmp_path / "long.wav", long, 16_000, subtype="PCM_16")
    answer = model.predict(tmp_path / "long.wav")
    assert answer.label == "female" and answer.duration_seconds == pytest.approx(long.size / 16_000, abs=0.01)
    assert answer.speech_seconds > 50
    timeline = model.segment(tmp_path / "long.wav")
    assert timeline.prediction == answer  # one pass gives the timeline and the whole answer
    assert timeline.segments[-1].end > 70 and all(a.end <= b.start for a, b in zip(timeline.segments, timeline.segments[1:]))


def _bytes_read() -> int:
    """What this process has read so far through read() calls, every thread's (Linux's own count)."""
    with open("/proc/self/io") as io:
        return int(next(line for line in io if line.startswith("rchar:")).split()[1])


def test_a_long_file_in_a_batch_is_read_once_and_answered_as_alone(model, tmp_path):
    woman = load_audio(SAMPLES / "cmu_arctic_us_axb_a0004.wav")
    sf.write(tmp_path / "long.wav", np.tile(np.concatenate([woman, np.zeros(8_000, np.float32)]), 25), 16_000, subtype="PCM_16")
    paths = [SAMPLES / "cmu_arctic_us_aew_a0001.wav", tmp_path / "long.wav"]
    alone = [model.predict(p) for p in paths]
    before = _bytes_read() if sys.platform == "linux" else None
    batched = list(model.predict_files(paths, n_jobs=2))
    if before is not None:  # each file decoded once, the long one (2.7 MB, two blocks) too
        assert _bytes_read() - before < 1.3 * sum(p.stat().st_size for p in paths)
    assert [b.to_dict() for b in batched] == [a.to_dict() for a in alone]


def test_files_in_parallel_give_the_same_answers_in_order(model, tmp_path):
    (tmp_path / "bad.wav").write_bytes(b"junk")
    paths = sorted(SAMPLES.glob("*.wav")) + [tmp_path / "bad.wav"] + sorted(SAMPLES.glob("*.mp3"))
    serial = list(model.predict_files(paths, n_jobs=1))
    parallel = list(model.predict_files(paths, n_jobs=2))
    assert [p.to_dict() for p in serial] == [p.to_dict() for p in parallel]
    assert [p.path for p in parallel] == [str(p) for p in paths] and parallel[6].error


def test_batched_files_get_the_answers_one_file_at_a_time_gets(model, tmp_path):
    quiet = load_audio(AUDIOMNIST_SAMPLE / "data" / "01" / "0_01_0.wav")
    sf.write(tmp_path / "silence.wav", np.zeros(16_000, np.float32), 16_000)
    sf.write(tmp_path / "quiet.wav", quiet, 16_000)
    paths = sorted(SAMPLES.glob("*.ogg")) + [tmp_path / "silence.wav", tmp_path / "quiet.wav"] + sorted(SAMPLES.glob("*.wav"))
    batched = list(model.predict_files(paths, batch_windows=4))
    for path, answer in zip(paths, batched):
        alone = model.predict(path)
        assert (answer.label, answer.speech_seconds, answer.duration_seconds) == (alone.label, alone.speech_seconds, alone.duration_seconds)
        assert answer.p_female == pytest.approx(alone.p_female, abs=1e-3) if alone.p_female is not None else answer.p_female is None


# --- arrays, rates and block boundaries -----------------------------------------------


def test_arrays_in_either_channel_layout_and_bad_rates_are_refused_by_name(model):
    from audiogender import AudioError

    voice = load_audio(SAMPLES / "cmu_arctic_us_axb_a0004.wav")
    samples_first, channels_first = np.stack([voice, voice], axis=1), np.stack([voice, voice])
    assert model.predict(samples_first) == model.predict(channels_first)
    assert model.predict(channels_first).label == "female" and model.predict(channels_first).duration_seconds > 2
    for rate in (0, -16_000, 1e9, 22_050.5):
        with pytest.raises(AudioError, match="sample rate"):
            model.predict(voice, sample_rate=rate)
    with pytest.raises(AudioError, match="which side is the channels"):
        model.predict(np.zeros((40, 30), np.float32))


def test_stretches_do_not_depend_on_where_a_long_file_was_cut_into_blocks(model, tmp_path):
    from audiogender.audio import AudioStream
    from audiogender.scheduler import Source, judge

    reading = load_audio(SAMPLES / "3436-172162-0000.ogg")  # 16.7 s of continuous read speech
    sf.write(tmp_path / "long.wav", np.concatenate([reading[: 14 * 16_000]] * 6), 16_000)  # speech runs through 60 s
    blocked = model.segment(tmp_path / "long.wav")  # read in 60 s blocks
    (one_block,) = judge([Source("long.wav", lambda: AudioStream(iter([load_audio(tmp_path / "long.wav")])))], model.voiced, model.window_outputs)
    whole = model.answer(one_block.tally)  # the same samples judged as one block
    assert not any(abs(s.end - 60.0) < 0.01 or abs(s.start - 60.0) < 0.01 for s in blocked.segments)
    assert len(blocked.segments) == len(whole.segments)
    for a, b in zip(blocked.segments, whole.segments):
        assert (a.start, a.end, a.label) == pytest.approx((b.start, b.end, b.label), abs=0.1)
    assert blocked.prediction.label == whole.prediction.label and blocked.duration_seconds == whole.duration_seconds


def test_empty_and_complex_arrays_are_refused_saying_what_they_are(model):
    from audiogender import AudioError

    with pytest.raises(AudioError, match="holds no samples"):
        model.predict(np.zeros((0, 2), np.float32))
    with pytest.raises(AudioError, match="complex numbers"):
        model.predict(np.ones(16_000) * (1 + 1j))


def test_a_woman_then_a_man_is_mixed_and_says_how_long_each_spoke(model):
    from audiogender.labels import MIXED

    woman, man = load_audio(SAMPLES / "198-209-0000.ogg")[: 8 * 16_000], load_audio(SAMPLES / "3436-172162-0000.ogg")[: 7 * 16_000]
    for recording in (np.concatenate([woman, man]), np.concatenate([man, np.zeros(8_000, np.float32), woman])):
        answer = model.predict(recording)
        assert answer.label == MIXED and answer.female_seconds > 4 and answer.male_seconds > 4, answer
    alone = model.predict(np.concatenate([woman, woman[: 4 * 16_000]]))
    assert alone.label == "female" and alone.male_seconds < 2 and alone.female_seconds > 8
    assert audiogender.load_model(kind="cnn", mixed_share=0.6).predict(np.concatenate([woman, man])).label != MIXED  # above a half: never mixed
