// Imported before uPlot: uPlot builds `new Intl.NumberFormat(navigator.language)` when it
// loads, and WebKitGTK reports the POSIX locale's name as the language ("C" when LANG=C or
// C.UTF-8), which Intl refuses with a RangeError — the whole UI would then fail to start.
// Such a name is replaced, for this page only, by "en-US"; a real tag is left as it is.
try {
  Intl.getCanonicalLocales(navigator.language);
} catch {
  try {
    Object.defineProperty(navigator, 'language', { value: 'en-US', configurable: true });
  } catch {
    // a browser that refuses: nothing more can be done here
  }
}

export {};
