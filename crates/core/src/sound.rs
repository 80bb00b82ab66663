//! Alert sounds played with rodio from the two WAVs bundled into the binary.
//!
//! The output device is opened for each alert and closed after it: an idle open stream
//! keeps a laptop's audio awake (and on a clock-less ALSA file device writes silence as
//! fast as it can). A burst of messages gives one sound: alerts closer than
//! [`BURST_WINDOW`] to the previous one are dropped.

use std::io::Cursor;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::settings::SoundChoice;

pub const CHIME_WAV: &[u8] = include_bytes!("../sounds/chime.wav");
pub const KNOCK_WAV: &[u8] = include_bytes!("../sounds/knock.wav");

pub const BURST_WINDOW: Duration = Duration::from_secs(3);

pub fn wav_bytes(choice: SoundChoice) -> &'static [u8] {
    match choice {
        SoundChoice::Chime => CHIME_WAV,
        SoundChoice::Knock => KNOCK_WAV,
    }
}

/// Plays one sound to the end on the default output device (blocking).
pub fn play_blocking(choice: SoundChoice, volume: f32) -> Result<(), String> {
    let mut sink = rodio::DeviceSinkBuilder::open_default_sink().map_err(|e| {
        let mut s = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(inner) = src {
            s.push_str(": ");
            s.push_str(&inner.to_string());
            src = inner.source();
        }
        s
    })?;
    sink.log_on_drop(false);
    let player = rodio::Player::connect_new(sink.mixer());
    player.set_volume(volume.clamp(0.0, 1.0) as rodio::Float);
    let decoder = rodio::Decoder::new_wav(Cursor::new(wav_bytes(choice)))
        .map_err(|e| format!("bundled sound is broken: {e}"))?;
    player.append(decoder);
    player.sleep_until_end();
    // let the device drain the last period before closing it
    std::thread::sleep(Duration::from_millis(60));
    drop(player);
    drop(sink);
    Ok(())
}

/// Plays alerts on a background thread, coalescing bursts, reporting a missing device once.
#[derive(Default)]
pub struct Alerter {
    last: Mutex<Option<Instant>>,
    playing: std::sync::Arc<AtomicBool>,
    warned: std::sync::Arc<AtomicBool>,
}

impl Alerter {
    pub fn new() -> Alerter {
        Alerter::default()
    }

    /// Starts an alert unless one played within the burst window. Returns whether a sound
    /// was started. `on_unavailable` is called once per process when there is no device.
    pub fn alert(
        &self,
        choice: SoundChoice,
        volume: f32,
        on_unavailable: impl FnOnce(String) + Send + 'static,
    ) -> bool {
        {
            let mut last = self.last.lock().unwrap();
            let now = Instant::now();
            if let Some(t) = *last {
                if now.duration_since(t) < BURST_WINDOW {
                    return false;
                }
            }
            if self.playing.load(Ordering::SeqCst) {
                return false;
            }
            *last = Some(now);
        }
        self.playing.store(true, Ordering::SeqCst);
        let playing = self.playing.clone();
        let warned = self.warned.clone();
        std::thread::spawn(move || {
            let r = play_blocking(choice, volume);
            playing.store(false, Ordering::SeqCst);
            if let Err(e) = r {
                tracing::warn!(error = %e, "cannot play alert sound");
                if !warned.swap(true, Ordering::SeqCst) {
                    on_unavailable(e);
                }
            }
        });
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_sounds_decode_and_are_not_silent() {
        for c in [SoundChoice::Chime, SoundChoice::Knock] {
            let d = rodio::Decoder::new_wav(Cursor::new(wav_bytes(c))).unwrap();
            let peak = d.fold(0.0, |m: rodio::Float, s| m.max(s.abs()));
            assert!(peak > 0.3, "{c:?} peak {peak}");
        }
    }

    #[test]
    fn a_burst_gives_one_sound() {
        let a = Alerter::new();
        // no device is needed to test the coalescing: failures are reported, not panics
        assert!(a.alert(SoundChoice::Chime, 0.0, |_| {}));
        for _ in 0..10 {
            assert!(!a.alert(SoundChoice::Chime, 0.0, |_| {}));
        }
    }
}
