"""Reading, converting and writing audio; bad files give AudioError naming the file."""

from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile as sf

from mww_trainer.data.audio import probe_audio, read_audio, to_float32, to_int16, write_wav
from mww_trainer.errors import AudioError

RATE = 16000


def tone(duration_s: float, rate_hz: int, freq_hz: float = 440.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(round(duration_s * rate_hz)) / rate_hz
    return (amp * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.asarray(x, dtype=np.float64) ** 2)))


def test_int16_float_round_trip_is_exact() -> None:
    every = np.arange(-32768, 32768, dtype=np.int16)
    assert np.array_equal(to_int16(to_float32(every)), every)
    assert to_int16(every) is every


def test_to_int16_clips_and_rejects_odd_types() -> None:
    got = to_int16(np.array([1.5, -1.5, 1.0, -1.0, 0.5], dtype=np.float32))
    assert got.tolist() == [32767, -32768, 32767, -32768, 16384]
    assert to_int16(np.array([5, -7], dtype=np.int32)).tolist() == [5, -7]
    with pytest.raises(ValueError):
        to_int16(np.array([40000], dtype=np.int32))
    with pytest.raises(TypeError):
        to_int16(np.array(["a"]))


def test_stereo_44k_float_wav_becomes_16k_mono_int16(tmp_path) -> None:
    left, right = tone(1.5, 44100, amp=0.6), tone(1.5, 44100, amp=0.2)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), 44100, subtype="FLOAT")
    samples = read_audio(path)
    assert samples.dtype == np.int16
    assert samples.shape == (24000,)
    # The mean of the channels is a 0.4-amplitude tone: rms 0.4 / sqrt(2) of full scale.
    assert rms(samples[1000:-1000]) == pytest.approx(0.4 / np.sqrt(2) * 32768, rel=0.01)
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    assert np.argmax(spectrum) * RATE / samples.size == pytest.approx(440, abs=1)


def test_float_wav_out_of_range_clips(tmp_path) -> None:
    path = tmp_path / "hot.wav"
    sf.write(path, np.array([1.7, -1.7, 0.25] * 100, dtype=np.float32), RATE, subtype="FLOAT")
    assert read_audio(path)[:3].tolist() == [32767, -32768, 8192]


def test_16k_mono_pcm_round_trips_exactly(tmp_path) -> None:
    samples = np.random.default_rng(0).integers(-32768, 32768, 8000).astype(np.int16)
    path = tmp_path / "exact.wav"
    write_wav(path, samples)
    assert np.array_equal(read_audio(path), samples)
    info = probe_audio(path)
    assert (info.rate_hz, info.channels, info.subtype, info.frames) == (RATE, 1, "PCM_16", 8000)
    assert info.duration_s == pytest.approx(0.5)
    assert info.is_device_format


def test_flac_at_22k_is_resampled(tmp_path) -> None:
    path = tmp_path / "clip.flac"
    sf.write(path, tone(2.0, 22050), 22050, subtype="PCM_16")
    info = probe_audio(path)
    assert (info.format, info.rate_hz, info.frames) == ("FLAC", 22050, 44100)
    assert not info.is_device_format
    samples = read_audio(path)
    assert samples.shape == (32000,)
    assert rms(samples[1000:-1000]) == pytest.approx(0.5 / np.sqrt(2) * 32768, rel=0.01)


def test_ogg_vorbis_is_read(tmp_path) -> None:
    path = tmp_path / "clip.ogg"
    sf.write(path, tone(1.0, RATE), RATE, format="OGG", subtype="VORBIS")
    samples = read_audio(path)
    assert samples.shape == (RATE,)
    # Lossy codec: the level survives, the exact samples do not.
    assert rms(samples[1000:-1000]) == pytest.approx(0.5 / np.sqrt(2) * 32768, rel=0.05)


def test_mp3_content_with_a_wav_name_is_decoded_by_content(tmp_path) -> None:
    if "MP3" not in sf.available_formats():
        pytest.skip("this libsndfile build has no MP3 support")
    path = tmp_path / "renamed.wav"
    sf.write(path, tone(1.0, RATE), RATE, format="MP3")
    assert probe_audio(path).format == "MP3"
    samples = read_audio(path)
    assert samples.size == pytest.approx(RATE, abs=1200)
    assert rms(samples[2000:-2000]) == pytest.approx(0.5 / np.sqrt(2) * 32768, rel=0.1)


def test_empty_file_is_reported(tmp_path) -> None:
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(AudioError, match=r"empty\.wav.*empty \(0 bytes\)"):
        read_audio(path)
    with pytest.raises(AudioError, match=r"empty\.wav"):
        probe_audio(path)


def test_header_without_samples_is_reported(tmp_path) -> None:
    path = tmp_path / "nothing.wav"
    sf.write(path, np.zeros(0, dtype=np.int16), RATE, subtype="PCM_16")
    with pytest.raises(AudioError, match=r"nothing\.wav.*no audio samples"):
        read_audio(path)


def test_truncated_header_is_reported(tmp_path) -> None:
    good = tmp_path / "good.wav"
    write_wav(good, to_int16(tone(0.5, RATE)))
    path = tmp_path / "truncated.wav"
    path.write_bytes(good.read_bytes()[:30])
    with pytest.raises(AudioError, match=r"truncated\.wav: not a readable audio file"):
        read_audio(path)


def test_text_renamed_wav_is_reported(tmp_path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("this is not audio\n" * 50)
    with pytest.raises(AudioError, match=r"notes\.wav: not a readable audio file"):
        read_audio(path)


def test_missing_file_is_reported(tmp_path) -> None:
    with pytest.raises(AudioError, match=r"absent\.wav"):
        read_audio(tmp_path / "absent.wav")


def test_nan_samples_are_reported(tmp_path) -> None:
    path = tmp_path / "nan.wav"
    sf.write(path, np.array([0.1, np.nan, 0.2], dtype=np.float32), RATE, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"nan\.wav.*NaN"):
        read_audio(path)


def test_write_wav_replaces_atomically_and_leaves_no_temp(tmp_path) -> None:
    path = tmp_path / "out.wav"
    write_wav(path, np.ones(100, dtype=np.int16))
    write_wav(path, np.full(200, 7, dtype=np.int16))
    assert os.listdir(tmp_path) == ["out.wav"]
    info = sf.info(path)
    assert (info.samplerate, info.channels, info.subtype, info.format) == (RATE, 1, "PCM_16", "WAV")
    assert read_audio(path).tolist() == [7] * 200


def test_write_wav_failure_keeps_the_old_file(tmp_path) -> None:
    path = tmp_path / "out.wav"
    write_wav(path, np.ones(100, dtype=np.int16))
    with pytest.raises(ValueError, match="mono"):
        write_wav(path, np.zeros((10, 2), dtype=np.int16))
    with pytest.raises(sf.LibsndfileError):
        write_wav(path, np.zeros(10, dtype=np.int16), rate_hz=0)
    assert os.listdir(tmp_path) == ["out.wav"]
    assert read_audio(path).tolist() == [1] * 100


def test_stereo_16k_pcm_is_averaged(tmp_path) -> None:
    path = tmp_path / "stereo16.wav"
    frames = np.array([[100, 300], [-1000, 1000], [32767, 32767], [7, 8]] * 50, dtype=np.int16)
    sf.write(path, frames, RATE, subtype="PCM_16")
    # 7.5 rounds half to even.
    assert read_audio(path)[:4].tolist() == [200, 0, 32767, 8]


@pytest.mark.parametrize("rate_hz", [1, 4000, 384000])
def test_a_rate_outside_8_to_192_khz_is_refused_before_decoding(tmp_path, rate_hz) -> None:
    path = tmp_path / "odd.wav"
    sf.write(path, np.zeros(4000, np.int16), rate_hz, subtype="PCM_16")
    with pytest.raises(AudioError, match=rf"odd\.wav: declares a sample rate of {rate_hz} Hz"):
        read_audio(path)
    with pytest.raises(AudioError, match="8-192 kHz"):
        probe_audio(path)


def test_long_files_are_resampled_block_by_block_exactly_as_in_one_go(tmp_path) -> None:
    import soxr

    stereo = np.stack([tone(20.0, 44100), tone(20.0, 44100, freq_hz=300.0)], axis=1)
    path = tmp_path / "long.wav"
    sf.write(path, stereo, 44100, subtype="FLOAT")
    whole = soxr.resample(stereo.mean(axis=1, dtype=np.float32), 44100, RATE, quality="HQ")
    assert np.array_equal(read_audio(path), to_int16(whole))


def test_a_file_longer_than_the_callers_cap_is_refused(tmp_path) -> None:
    path = tmp_path / "long.wav"
    write_wav(path, np.zeros(RATE * 5, np.int16))
    with pytest.raises(AudioError, match=r"long\.wav: longer than the 2 s accepted"):
        read_audio(path, max_duration_s=2)
    assert len(read_audio(path, max_duration_s=5)) == RATE * 5


def test_a_wav_cut_short_is_reported_not_read_as_a_shorter_clip(tmp_path) -> None:
    whole = tmp_path / "whole.wav"
    write_wav(whole, to_int16(tone(2.0, RATE)))
    cut = tmp_path / "cut.wav"
    cut.write_bytes(whole.read_bytes()[: 44 + RATE * 2 // 2])  # the header and 0.5 s of 2 s
    with pytest.raises(AudioError, match=r"cut\.wav: truncated: its header promises 2\.00 s"):
        read_audio(cut)
    assert len(read_audio(whole)) == 2 * RATE


def test_trim_silence_keeps_a_quiet_onset_only_with_a_lead() -> None:
    """A hiss-like onset 8 dB above the room's noise, then a loud vowel: the onset falls
    under the threshold, so only ``lead_s`` keeps it (a word's "s" in a noisy room)."""
    from mww_trainer.data.audio import trim_silence

    rng = np.random.default_rng(0)
    rate = 16000
    room = rng.normal(0, 100, 2 * rate)
    onset = slice(rate // 2, rate // 2 + 2400)  # 150 ms of "s" at 0.5 s
    vowel = slice(onset.stop, onset.stop + 4800)
    room[onset] += rng.normal(0, 250, 2400)
    room[vowel] += 8000 * np.sin(2 * np.pi * 220 * np.arange(4800) / rate)
    plain = trim_silence(room, lead_s=0.0)
    assert len(plain) == pytest.approx(4800, abs=320)  # the vowel alone: the "s" is cut
    kept = trim_silence(room, lead_s=0.3)
    assert len(kept) == pytest.approx(4800 + 0.3 * rate, abs=320)
    assert np.array_equal(kept[-len(plain) :], plain)  # the same end: the word still ends there
    short = trim_silence(room[onset.start - 800 :], lead_s=0.3)
    assert len(short) == pytest.approx(800 + 2400 + 4800, abs=320)  # no lead to keep past the start
