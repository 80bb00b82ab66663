"""Generates the two bundled alert sounds (mono, 16-bit, 22.05 kHz WAV).

Run: python3 generate.py  (only the standard library is needed)
"""
import math
import struct
import wave

RATE = 22050


def write(name, samples):
    with wave.open(name, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(b"".join(struct.pack("<h", int(max(-1, min(1, s)) * 32000)) for s in samples))


def chime():
    # two bell-like notes (E6 then B5) with exponential decay
    out = []
    for freq, start, dur in ((1318.5, 0.0, 0.35), (987.8, 0.12, 0.45)):
        n0, n = int(start * RATE), int(dur * RATE)
        while len(out) < n0 + n:
            out.append(0.0)
        for i in range(n):
            t = i / RATE
            env = math.exp(-t * 9) * min(1.0, i / 60)
            out[n0 + i] += 0.45 * env * (math.sin(2 * math.pi * freq * t) + 0.3 * math.sin(4 * math.pi * freq * t))
    return out


def knock():
    # two short low "knocks": damped 180 Hz with a noisy attack
    import random
    rnd = random.Random(7)
    out = []
    for start in (0.0, 0.16):
        n0, n = int(start * RATE), int(0.12 * RATE)
        while len(out) < n0 + n:
            out.append(0.0)
        for i in range(n):
            t = i / RATE
            env = math.exp(-t * 40)
            noise = (rnd.random() * 2 - 1) * math.exp(-t * 200)
            out[n0 + i] += 0.8 * env * math.sin(2 * math.pi * 180 * t) + 0.3 * noise
    out += [0.0] * int(0.05 * RATE)
    return out


write("chime.wav", chime())
write("knock.wav", knock())
