#!/usr/bin/env python3
"""Generates the reply-email corpus in this directory.

Every case is a reply to one of our conversation emails, written the way a
particular mail client writes it: `NAME.eml` is the raw RFC 5322 message and
`NAME.expected.txt` is the text the server must post to the chat (trimmed,
lines joined with "\\n", no trailing newline).

The raw messages are assembled by hand (boundaries, Content-Transfer-Encoding,
RFC 2047 encoded-words), using only the standard library, so that every
encoding is real: quoted-printable with soft line breaks, base64, 8bit KOI8-R,
windows-1251, format=flowed.

Placeholders, substituted by the Rust test before a message is fed in:
  {{FROM}}         the sender's address (From header, Outlook "To:" lines)
  {{REPLY_TO}}     our reply address reply+<token>@<reply-domain>
  {{MESSAGE_ID}}   the Message-ID header value, angle brackets included
  {{IN_REPLY_TO}}  the In-Reply-To / References value, angle brackets included
They appear only in plain ASCII headers (never inside an encoded-word) and in
7bit/8bit or quoted-printable body parts, where the QP encoder below never puts
a soft line break inside one. Base64 parts hold no placeholder and no
`reply+...` address at all (the server also looks for the reply token in the
body, so a made-up token there would be wrong); where such a client quotes
an address, it is the sender address of our emails, notifications@switchboard.localhost.

Run `python3 generate.py` to rewrite the files; it then parses every message
back with the `email` package (placeholders replaced by sample values) and
checks that each body part decodes to exactly the text it was built from.
"""

import base64
import email
import email.policy
import email.quoprimime
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CRLF = "\r\n"

SEP_EN = "-- Reply above this line to answer in the chat --"
SEP_RU = "-- Ответьте выше этой строки, чтобы ответить в чат --"

# The sender address of our notifications, for quotes inside base64 parts.
NOTIFY_FROM = "notifications@switchboard.localhost"

# Rough lengths of the substituted values: the QP encoder wraps as if the
# placeholder were this long, so lines stay near 76 characters after
# substitution too.
PLACEHOLDERS = {
    "{{FROM}}": 32,
    "{{REPLY_TO}}": 64,
    "{{MESSAGE_ID}}": 64,
    "{{IN_REPLY_TO}}": 64,
}

# Sample values used only by the self-check at the end.
SAMPLE = {
    "{{FROM}}": "sender@example.org",
    "{{REPLY_TO}}": "reply+c42-u3-0123456789abcdef01234567@switchboard.localhost",
    "{{MESSAGE_ID}}": "<sample.reply.1@mail.example.org>",
    "{{IN_REPLY_TO}}": "<conversation.42@switchboard.localhost>",
}


# --------------------------------------------------------------------------
# Encoders
# --------------------------------------------------------------------------

def _qp_units(data: bytes):
    """(literal text, width for wrapping) per byte or placeholder."""
    units = []
    i = 0
    while i < len(data):
        if data.startswith(b"{{", i):
            j = data.index(b"}}", i) + 2
            ph = data[i:j].decode("ascii")
            if ph not in PLACEHOLDERS:
                raise ValueError(f"unknown placeholder {ph}")
            units.append((ph, PLACEHOLDERS[ph]))
            i = j
            continue
        b = data[i]
        if (33 <= b <= 126 and b != 61) or b in (32, 9):
            units.append((chr(b), 1))
        else:
            units.append(("=%02X" % b, 3))
        i += 1
    return units


def qp(text: str, charset: str, width: int = 72) -> bytes:
    """Quoted-printable (RFC 2045) of `text` (lines split on "\\n"), CRLF line
    ends, soft breaks before `width`, never inside an =XX or a placeholder;
    whitespace before a line end or a soft break is encoded."""
    out = []
    for line in text.split("\n"):
        units = _qp_units(line.encode(charset))
        cur, cur_w = [], 0
        for s, w in units:
            if cur and cur_w + w > width:
                if cur[-1] in (" ", "\t"):
                    cur[-1] = "=%02X" % ord(cur[-1])
                out.append("".join(cur) + "=")
                cur, cur_w = [], 0
            cur.append(s)
            cur_w += w
        if cur and cur[-1] in (" ", "\t"):
            cur[-1] = "=%02X" % ord(cur[-1])
        out.append("".join(cur))
    return CRLF.join(out).encode("ascii")


def b64(text: str, charset: str) -> bytes:
    if "{{" in text or "reply+" in text:
        raise ValueError("no placeholder or reply address may go into a base64 part")
    data = text.replace("\n", CRLF).encode(charset)
    return base64.encodebytes(data).replace(b"\n", b"\r\n").rstrip(b"\r\n")


def raw8(text: str, charset: str) -> bytes:
    """7bit/8bit: the text as is, CRLF line ends."""
    return text.replace("\n", CRLF).encode(charset)


def ew_b(text: str, charset: str = "UTF-8") -> str:
    """RFC 2047 B encoded-words, each at most 75 characters, folded."""
    words, chunk = [], ""
    for ch in text:
        trial = chunk + ch
        if len(f"=?{charset}?B?") + len(base64.b64encode(trial.encode(charset))) + 2 > 75:
            words.append(chunk)
            chunk = ch
        else:
            chunk = trial
    if chunk:
        words.append(chunk)
    return (CRLF + " ").join(
        f"=?{charset}?B?{base64.b64encode(w.encode(charset)).decode()}?=" for w in words
    )


def ew_q(text: str, charset: str) -> str:
    """RFC 2047 Q encoded-word(s) via the standard library's header encoder."""
    words, chunk = [], ""
    for ch in text:
        trial = chunk + ch
        if len(email.quoprimime.header_encode(trial.encode(charset), charset)) > 75:
            words.append(chunk)
            chunk = ch
        else:
            chunk = trial
    if chunk:
        words.append(chunk)
    return (CRLF + " ").join(
        email.quoprimime.header_encode(w.encode(charset), charset).replace("?q?", "?Q?", 1) for w in words
    )


# --------------------------------------------------------------------------
# MIME assembly
# --------------------------------------------------------------------------

ENCODERS = {"quoted-printable": qp, "base64": b64, "8bit": raw8, "7bit": raw8}


class Part:
    def __init__(self, content_type: str, charset: str, cte: str, text: str):
        self.content_type = content_type  # the full header value, as the client writes it
        self.charset = charset
        self.cte = cte
        self.text = text
        if cte == "7bit":
            text.encode("ascii")

    def render(self) -> bytes:
        head = f"Content-Type: {self.content_type}{CRLF}Content-Transfer-Encoding: {self.cte}{CRLF}{CRLF}"
        return head.encode("ascii") + ENCODERS[self.cte](self.text, self.charset)

    def texts(self):
        return [self]


class Alternative:
    def __init__(self, boundary: str, parts, quoted_boundary: bool = True):
        self.boundary = boundary
        self.parts = parts
        self.quoted_boundary = quoted_boundary

    def render(self) -> bytes:
        b = f'"{self.boundary}"' if self.quoted_boundary else self.boundary
        out = f"Content-Type: multipart/alternative;{CRLF}\tboundary={b}{CRLF}{CRLF}".encode("ascii")
        for p in self.parts:
            out += f"--{self.boundary}{CRLF}".encode("ascii") + p.render() + CRLF.encode()
        out += f"--{self.boundary}--{CRLF}".encode("ascii")
        return out

    def texts(self):
        return [t for p in self.parts for t in p.texts()]


def message(headers, body) -> bytes:
    head = "".join(f"{name}: {value}{CRLF}" for name, value in headers)
    raw = head.encode("ascii") + body.render()
    if not raw.endswith(b"\r\n"):
        raw += b"\r\n"
    return raw


def thread_headers():
    return [
        ("Message-ID", "{{MESSAGE_ID}}"),
        ("In-Reply-To", "{{IN_REPLY_TO}}"),
        ("References", "{{IN_REPLY_TO}}"),
    ]


# --------------------------------------------------------------------------
# Our own conversation emails, as the replies quote them
# --------------------------------------------------------------------------

class Notification:
    """One of our emails (crates/server/src/mail/notification.rs): the new
    messages, the separator, "Conversation #42 — name", the history and the
    reply address."""

    def __init__(self, lang, new, history, dash="—"):
        self.lang = lang
        self.new = new
        self.history = history
        self.sep = SEP_EN if lang == "en" else SEP_RU
        conv = "Conversation" if lang == "en" else "Диалог"
        visitor = "Anna Smirnova" if lang == "en" else "Анна Смирнова"
        self.header = f"{conv} #42 {dash} {visitor}"
        self.addr_label = "Reply address" if lang == "en" else "Адрес для ответа"

    def text_lines(self, address=True):
        """Exactly our text/plain part (plain-text clients quote this)."""
        lines = []
        for m in self.new:
            lines += m.split("\n") + [""]
        lines += [self.sep, self.header, ""]
        lines += self.history
        if address:
            lines += ["", f"{self.addr_label}: {{{{REPLY_TO}}}}"]
        return lines

    def rendered_lines(self, bold=False, address=True):
        """Our HTML part as an HTML-composing client turns it into its own
        text/plain alternative: one paragraph per <p>, *bold* for Gmail."""
        paras = list(self.new) + [self.sep, f"*{self.header}*" if bold else self.header]
        paras += self.history
        if address:
            paras.append(f"{self.addr_label}: {{{{REPLY_TO}}}}")
        lines = []
        for p in paras:
            lines += p.split("\n") + [""]
        return lines[:-1]

    def html(self, address=True):
        """Our HTML part's body, as clients copy it into their blockquote."""
        esc = html_escape
        h = '<div style="font-family:sans-serif;line-height:1.5">'
        for m in self.new:
            h += f'<p style="white-space:pre-wrap">{esc(m)}</p>'
        h += f'<p style="color:#999">{esc(self.sep)}</p>'
        h += f"<p><b>{esc(self.header)}</b></p>"
        h += '<div style="color:#555">'
        for line in self.history:
            h += f'<p style="white-space:pre-wrap;margin:4px 0">{esc(line)}</p>'
        h += "</div>"
        if address:
            h += f'<p style="color:#999;font-size:12px">{self.addr_label}: {{{{REPLY_TO}}}}</p>'
        h += "</div>"
        return h


def html_escape(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def quote(lines, prefix="> ", empty=">"):
    return [prefix + l if l else empty for l in lines]


def subject_en_member():
    return "New message from Anna Smirnova (#42)"


SUBJ_EN_VISITOR = "Re: your conversation #42"
SUBJ_RU_MEMBER = "Новое сообщение от Анна Смирнова (#42)"
SUBJ_RU_VISITOR = "Re: ваш диалог #42"


# --------------------------------------------------------------------------
# The cases
# --------------------------------------------------------------------------

CASES = []


def case(fn):
    CASES.append(fn)
    return fn


def join(*blocks):
    """Joins blocks of lines (lists) or strings into one text."""
    out = []
    for b in blocks:
        out += b.split("\n") if isinstance(b, str) else list(b)
    return "\n".join(out)


@case
def gmail_en_utf8():
    n = Notification("en", ["Hello, is the green tea in stock?"],
                     ["Anna Smirnova: Hello, is the green tea in stock?"])
    reply = ("Hi Anna,\n\n"
             "yes, the Sencha is in stock — we have about forty 100 g packs left, 12 € each. "
             "I can reserve two for you until Friday if you like.\n\n"
             "John")
    # Gmail wraps a long attribution line in its text/plain part.
    text = join(reply, "", "On Wed, Nov 25, 2026 at 3:04 PM Switchboard <",
                "{{REPLY_TO}}> wrote:", "", quote(n.rendered_lines(bold=True)), "")
    html_reply = ('<div dir="ltr"><div>Hi Anna,</div><div><br></div><div>yes, the Sencha is in stock — we have '
                  "about forty 100 g packs left, 12 € each. I can reserve two for you until Friday if you like."
                  "</div><div><br></div><div>John</div></div>")
    html = (html_reply + "<br>\n"
            '<div class="gmail_quote gmail_quote_container"><div dir="ltr" class="gmail_attr">'
            "On Wed, Nov 25, 2026 at 3:04 PM Switchboard &lt;"
            '<a href="mailto:{{REPLY_TO}}">{{REPLY_TO}}</a>&gt; wrote:<br></div>'
            '<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid '
            'rgb(204,204,204);padding-left:1ex">' + n.html() + "</blockquote></div>\n")
    headers = [
        ("MIME-Version", "1.0"),
        ("Date", "Wed, 25 Nov 2026 15:19:42 +0300"),
        ("References", "{{IN_REPLY_TO}}"),
        ("In-Reply-To", "{{IN_REPLY_TO}}"),
        ("Message-ID", "{{MESSAGE_ID}}"),
        ("Subject", "Re: " + subject_en_member()),
        ("From", "John Carter <{{FROM}}>"),
        ("To", "{{REPLY_TO}}"),
    ]
    body = Alternative("000000000000d5b1e40627a1c3f9", [
        Part('text/plain; charset="UTF-8"', "utf-8", "quoted-printable", text),
        Part('text/html; charset="UTF-8"', "utf-8", "quoted-printable", html),
    ])
    return dict(
        name="gmail-en-utf8", raw=message(headers, body), expected=reply, parts=body.texts(),
        what="Gmail (web), English. multipart/alternative, text/plain and text/html both UTF-8 "
             "quoted-printable (long reply line with soft breaks, em dash and euro sign). The "
             "attribution \"On Wed, Nov 25, 2026 at 3:04 PM Switchboard <\" / \"reply+...> wrote:\" "
             "is wrapped over two lines; the quote uses \"> \" and \">\" for empty lines.",
        sender="operator")


@case
def gmail_ru_utf8():
    n = Notification("ru", ["Да, сенча есть: пачки по 100 г, 690 руб. Отложить для вас?"],
                     ["Анна Смирнова: Здравствуйте! Зелёный чай есть в наличии?",
                      "Мария Иванова: Да, сенча есть: пачки по 100 г, 690 руб. Отложить для вас?"])
    reply = ("Спасибо, Мария!\n\n"
             "Да, отложите, пожалуйста, две пачки. Заберу в пятницу после 18:00 — вы ведь до 20:00 работаете?")
    text = join(reply, "", "ср, 25 нояб. 2026 г. в 15:04, Switchboard <{{REPLY_TO}}>:", "",
                quote(n.rendered_lines(bold=True)), "")
    html = ('<div dir="ltr"><div>Спасибо, Мария!</div><div><br></div><div>Да, отложите, пожалуйста, две пачки. '
            "Заберу в пятницу после 18:00 — вы ведь до 20:00 работаете?</div></div><br>\n"
            '<div class="gmail_quote gmail_quote_container"><div dir="ltr" class="gmail_attr">'
            "ср, 25 нояб. 2026 г. в 15:04, Switchboard &lt;"
            '<a href="mailto:{{REPLY_TO}}">{{REPLY_TO}}</a>&gt;:<br></div>'
            '<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid '
            'rgb(204,204,204);padding-left:1ex">' + n.html() + "</blockquote></div>\n")
    headers = [
        ("MIME-Version", "1.0"),
        ("Date", "Wed, 25 Nov 2026 15:26:03 +0300"),
        ("References", "{{IN_REPLY_TO}}"),
        ("In-Reply-To", "{{IN_REPLY_TO}}"),
        ("Message-ID", "{{MESSAGE_ID}}"),
        ("Subject", ew_b(SUBJ_RU_VISITOR)),
        ("From", ew_b("Анна Смирнова") + " <{{FROM}}>"),
        ("To", "{{REPLY_TO}}"),
    ]
    body = Alternative("0000000000002f8c1a0627a1d04e", [
        Part('text/plain; charset="UTF-8"', "utf-8", "quoted-printable", text),
        Part('text/html; charset="UTF-8"', "utf-8", "quoted-printable", html),
    ])
    return dict(
        name="gmail-ru-utf8", raw=message(headers, body), expected=reply, parts=body.texts(),
        what="Gmail (web), Russian interface. UTF-8 quoted-printable; attribution "
             "\"ср, 25 нояб. 2026 г. в 15:04, Switchboard <reply+...>:\" (no \"wrote\" word, ends in \">:\"); "
             "From name and Subject are UTF-8 B encoded-words.",
        sender="visitor")


@case
def outlook_en():
    n = Notification("en", ["Do you deliver to Kazan? And how long does it take?"],
                     ["Anna Smirnova: Do you deliver to Kazan? And how long does it take?"])
    reply = ("Hi Anna,\n\n"
             "Yes, we deliver to Kazan by courier. It takes 3–5 business days, and orders over "
             "3,000 rubles ship free.\n\n"
             "Thanks,\n"
             "John")
    block = ["________________________________",
             "From: Switchboard <{{REPLY_TO}}>",
             "Sent: Wednesday, November 25, 2026 3:04 PM",
             "To: John Carter <{{FROM}}>",
             "Subject: " + subject_en_member(),
             ""]
    text = join(reply, "", block, n.rendered_lines(), "")
    style = ('style="font-family: Aptos, Aptos_EmbeddedFont, Aptos_MSFontService, Calibri, Helvetica, '
             'sans-serif; font-size: 12pt; color: rgb(0, 0, 0);"')
    paras = ["Hi Anna,", "<br>",
             "Yes, we deliver to Kazan by courier. It takes 3–5 business days, and orders over 3,000 rubles ship free.",
             "<br>", "Thanks,", "John"]
    html = ('<html>\n<head>\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8">\n'
            '<style type="text/css" style="display:none;"> P {margin-top:0;margin-bottom:0;} </style>\n'
            '</head>\n<body dir="ltr">\n'
            + "".join(f'<div class="elementToProof" {style}>\n{p}</div>\n' for p in paras)
            + '<div id="appendonsend"></div>\n'
            '<hr style="display:inline-block;width:98%" tabindex="-1">\n'
            '<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri, sans-serif" style="font-size:11pt" '
            'color="#000000"><b>From:</b> Switchboard &lt;{{REPLY_TO}}&gt;<br>\n'
            "<b>Sent:</b> Wednesday, November 25, 2026 3:04 PM<br>\n"
            "<b>To:</b> John Carter &lt;{{FROM}}&gt;<br>\n"
            f"<b>Subject:</b> {subject_en_member()}</font>\n<div>&nbsp;</div>\n</div>\n"
            + n.html() + "\n</body>\n</html>\n")
    headers = [
        ("From", "John Carter <{{FROM}}>"),
        ("To", '"{{REPLY_TO}}" <{{REPLY_TO}}>'),
        ("Subject", "Re: " + subject_en_member()),
        ("Thread-Topic", subject_en_member()),
        ("Thread-Index", "AQHbXq3Kc2Rm0pYxQkOIv7a2FhL9Bw=="),
        ("Date", "Wed, 25 Nov 2026 12:21:07 +0000"),
        *thread_headers(),
        ("Accept-Language", "en-US"),
        ("Content-Language", "en-US"),
        ("X-MS-Has-Attach", ""),
        ("X-MS-TNEF-Correlator", ""),
        ("MIME-Version", "1.0"),
    ]
    body = Alternative("_000_AM9PR07MB7203D1E5C0A2B8F4E1C9A6B1AM9PR07MB7203eurp_", [
        Part('text/plain; charset="utf-8"', "utf-8", "quoted-printable", text),
        Part('text/html; charset="utf-8"', "utf-8", "quoted-printable", html),
    ])
    return dict(
        name="outlook-en", raw=message(headers, body), expected=reply, parts=body.texts(),
        what="New Outlook / Outlook on the web, English. The original is not \">\"-quoted: a line of "
             "32 underscores, then \"From: / Sent: / To: / Subject:\", then our email as paragraphs. "
             "The sign-off \"Thanks,\\nJohn\" belongs to the reply.",
        sender="operator")


@case
def outlook_en_original_message():
    n = Notification("en", ["Yes, the Sencha is in stock: 100 g packs, 12 € each. Shall I reserve some for you?"],
                     ["Anna Smirnova: Hello, is the green tea in stock?",
                      "John Carter: Yes, the Sencha is in stock: 100 g packs, 12 € each. Shall I reserve some for you?"])
    reply = ("Great, thank you! Please reserve two packs, I will pick them up on Friday.\n\n"
             "One more question: do you also sell the glass teapot from the photo?\n\n"
             "Anna")
    # Classic Outlook leaves a space after the From address.
    block = ["-----Original Message-----",
             "From: Switchboard <{{REPLY_TO}}> ",
             "Sent: Wednesday, November 25, 2026 3:04 PM",
             "To: Anna Smirnova <{{FROM}}>",
             "Subject: " + SUBJ_EN_VISITOR,
             ""]
    text = join(reply, "", block, n.text_lines(), "")
    headers = [
        ("From", "Anna Smirnova <{{FROM}}>"),
        ("To", "{{REPLY_TO}}"),
        *thread_headers(),
        ("Subject", "RE: " + SUBJ_EN_VISITOR),
        ("Date", "Wed, 25 Nov 2026 15:37:51 +0300"),
        ("MIME-Version", "1.0"),
        ("X-Mailer", "Microsoft Outlook 16.0"),
        ("Thread-Index", "AQKl3xQ0cJ8b1M2vYkS9wXn4GpRrIg=="),
        ("Content-Language", "en-us"),
    ]
    body = Part('text/plain;\r\n\tcharset="utf-8"', "utf-8", "quoted-printable", text)
    return dict(
        name="outlook-en-original-message", raw=message(headers, body), expected=reply, parts=body.texts(),
        what="Classic Outlook for Windows in plain-text mode: single text/plain part, UTF-8 QP. "
             "\"-----Original Message-----\" then the header block (with Outlook's trailing space after "
             "the From address, encoded =20) and our text part unquoted.",
        sender="visitor")


@case
def outlook_ru_windows1251():
    n = Notification("ru", ["Здравствуйте! Зелёный чай есть в наличии?"],
                     ["Анна Смирнова: Здравствуйте! Зелёный чай есть в наличии?"])
    reply = ("Анна, добрый день!\n\n"
             "Да, сенча есть в наличии. Отложила для вас две пачки по 100 г — забрать можно до пятницы включительно.\n\n"
             "С уважением,\n"
             "Мария")
    # Outlook for Windows: no line before the header block in the text part.
    block = ["От: Switchboard <{{REPLY_TO}}> ",
             "Отправлено: среда, 25 ноября 2026 г. 15:04",
             "Кому: Мария Иванова <{{FROM}}>",
             "Тема: " + SUBJ_RU_MEMBER,
             ""]
    text = join(reply, "", block, n.rendered_lines(), "")
    p = lambda s: f"<p class=MsoNormal>{s}<o:p></o:p></p>\r\n"
    html = ('<html xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" '
            'xmlns:w="urn:schemas-microsoft-com:office:word" '
            'xmlns:m="http://schemas.microsoft.com/office/2004/12/omml" xmlns="http://www.w3.org/TR/REC-html40">'
            '<head><meta http-equiv=Content-Type content="text/html; charset=windows-1251">'
            '<meta name=Generator content="Microsoft Word 15 (filtered medium)">'
            "<style><!--\n/* Style Definitions */\np.MsoNormal, li.MsoNormal, div.MsoNormal\n"
            "\t{margin:0cm;\n\tfont-size:11.0pt;\n\tfont-family:\"Calibri\",sans-serif;}\n--></style>"
            '</head><body lang=RU link="#0563C1" vlink="#954F72" style=\'word-wrap:break-word\'>'
            "<div class=WordSection1>"
            + p("Анна, добрый день!") + p("&nbsp;")
            + p("Да, сенча есть в наличии. Отложила для вас две пачки по 100 г — забрать можно до пятницы включительно.")
            + p("&nbsp;") + p("С уважением,") + p("Мария") + p("&nbsp;")
            + "<div><div style='border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm'>"
            "<p class=MsoNormal><b>От:</b> Switchboard &lt;{{REPLY_TO}}&gt; <br>"
            "<b>Отправлено:</b> среда, 25 ноября 2026 г. 15:04<br>"
            "<b>Кому:</b> Мария Иванова &lt;{{FROM}}&gt;<br>"
            f"<b>Тема:</b> {SUBJ_RU_MEMBER}<o:p></o:p></p></div></div>"
            + p("&nbsp;") + n.html() + "</div></body></html>")
    headers = [
        ("From", ew_b("Мария Иванова", "windows-1251") + " <{{FROM}}>"),
        ("To", "<{{REPLY_TO}}>"),
        *thread_headers(),
        ("Subject", ew_b("RE: " + SUBJ_RU_MEMBER, "windows-1251")),
        ("Date", "Wed, 25 Nov 2026 15:48:12 +0300"),
        ("MIME-Version", "1.0"),
        ("X-Mailer", "Microsoft Outlook 16.0"),
        ("Thread-Index", "AQJ0mB9yQ3q7vWcF2tTjHk1c8pXoZg=="),
        ("Content-Language", "ru"),
    ]
    body = Alternative("----=_NextPart_000_0019_01DB5F2A.8C3E6B40", [
        Part('text/plain;\r\n\tcharset="windows-1251"', "windows-1251", "quoted-printable", text),
        Part('text/html;\r\n\tcharset="windows-1251"', "windows-1251", "quoted-printable", html),
    ])
    return dict(
        name="outlook-ru-windows1251", raw=message(headers, body), expected=reply, parts=body.texts(),
        what="Outlook for Windows, Russian. windows-1251 quoted-printable in both parts; the original "
             "starts with the Russian header block \"От: / Отправлено: / Кому: / Тема:\" and no line "
             "before it; From name and Subject are windows-1251 B encoded-words. The sign-off "
             "\"С уважением,\\nМария\" belongs to the reply.",
        sender="operator")


@case
def apple_mail_en():
    n = Notification("en", ["We are open until 8 pm on Fridays. Shall I keep the two packs for you until then?"],
                     ["Anna Smirnova: Please reserve two packs of the Sencha.",
                      "John Carter: We are open until 8 pm on Fridays. Shall I keep the two packs for you until then?"])
    reply = ("That’s perfect, thank you! Please keep them for me.\n"
             "I’ll come by on Friday after 6 pm.")
    quoted = n.rendered_lines()
    quoted[0] = "\ufeff" + quoted[0]  # iOS puts a zero-width no-break space there
    # iOS Mail quotes the attribution line too, and writes "> " for empty lines.
    text = join(reply, "", "Sent from my iPhone", "",
                quote(["On 25 Nov 2026, at 15:04, Switchboard <{{REPLY_TO}}> wrote:", ""] + quoted, empty="> "), "")
    headers = [
        ("Content-Type", "text/plain;\r\n\tcharset=utf-8"),
        ("Content-Transfer-Encoding", "quoted-printable"),
        ("From", "Anna Smirnova <{{FROM}}>"),
        ("Mime-Version", "1.0 (1.0)"),
        ("Subject", SUBJ_EN_VISITOR),
        ("Date", "Wed, 25 Nov 2026 15:32:10 +0300"),
        *thread_headers(),
        ("To", "{{REPLY_TO}}"),
        ("X-Mailer", "iPhone Mail (22B91)"),
    ]
    raw = "".join(f"{k}: {v}{CRLF}" for k, v in headers).encode("ascii") + CRLF.encode() + qp(text, "utf-8") + b"\r\n"
    return dict(
        name="apple-mail-en", raw=raw, expected=reply,
        what="Apple Mail on iPhone, English. Single text/plain UTF-8 QP (curly apostrophes); "
             "\"Sent from my iPhone\" signature, then the attribution \"On 25 Nov 2026, at 15:04, "
             "Switchboard <reply+...> wrote:\" inside the \"> \" quote, U+FEFF before the first quoted line.",
        sender="visitor",
        parts=[Part("text/plain; charset=utf-8", "utf-8", "quoted-printable", text)])


@case
def apple_mail_ru():
    n = Notification("ru", ["Отложила для вас две пачки сенчи, забрать можно до пятницы."],
                     ["Анна Смирнова: Отложите, пожалуйста, две пачки сенчи.",
                      "Мария Иванова: Отложила для вас две пачки сенчи, забрать можно до пятницы."])
    reply = ("Мария, спасибо!\n"
             "А стеклянный чайник, который на фото у вас на сайте, тоже есть в наличии? "
             "Если да — отложите, пожалуйста, и его.\n\n"
             "Анна")
    attribution = "25 нояб. 2026 г., в 15:04, Switchboard <{{REPLY_TO}}> написал(а):"
    text = join(reply, "", attribution, "", quote(n.rendered_lines()), "")
    html = ('<html><head><meta http-equiv="content-type" content="text/html; charset=utf-8"></head>'
            '<body style="overflow-wrap: break-word; -webkit-nbsp-mode: space; line-break: after-white-space;">'
            "Мария, спасибо!<div>А стеклянный чайник, который на фото у вас на сайте, тоже есть в наличии? "
            "Если да — отложите, пожалуйста, и его.</div><div><br></div><div>Анна</div><div><br><div>"
            "<div>25 нояб. 2026 г., в 15:04, Switchboard &lt;{{REPLY_TO}}&gt; написал(а):</div>"
            '<br class="Apple-interchange-newline"><blockquote type="cite"><div>' + n.html()
            + "</div></blockquote></div><br></div></body></html>")
    headers = [
        ("Content-Type", 'multipart/alternative;\r\n\tboundary="Apple-Mail=_6E1B3F0C-2A7D-4C55-9E43-8F0D2B61A7C4"'),
        ("Mime-Version", "1.0 (Mac OS X Mail 16.0 \\(3826.200.121\\))"),
        ("Subject", ew_b(SUBJ_RU_VISITOR, "utf-8")),
        ("From", ew_b("Анна Смирнова", "utf-8") + " <{{FROM}}>"),
        ("In-Reply-To", "{{IN_REPLY_TO}}"),
        ("Date", "Wed, 25 Nov 2026 15:35:27 +0300"),
        ("To", "{{REPLY_TO}}"),
        ("References", "{{IN_REPLY_TO}}"),
        ("Message-Id", "{{MESSAGE_ID}}"),
        ("X-Mailer", "Apple Mail (2.3826.200.121)"),
    ]
    boundary = "Apple-Mail=_6E1B3F0C-2A7D-4C55-9E43-8F0D2B61A7C4"
    parts = [Part("text/plain;\r\n\tcharset=utf-8", "utf-8", "quoted-printable", text),
             Part("text/html;\r\n\tcharset=utf-8", "utf-8", "quoted-printable", html)]
    raw = "".join(f"{k}: {v}{CRLF}" for k, v in headers).encode("ascii") + CRLF.encode()
    for part in parts:
        raw += f"{CRLF}--{boundary}{CRLF}".encode() + part.render() + CRLF.encode()
    raw += f"--{boundary}--{CRLF}".encode()
    return dict(
        name="apple-mail-ru", raw=raw, expected=reply,
        what="Apple Mail on macOS, Russian. multipart/alternative UTF-8 QP; the attribution "
             "\"25 нояб. 2026 г., в 15:04, Switchboard <reply+...> написал(а):\" stands unquoted above "
             "the \"> \" quote; a long reply line goes over QP soft breaks.",
        sender="visitor", parts=parts)


@case
def thunderbird_en():
    n = Notification("en", ["Hi! Could you tell me the price of the Sencha, 100 g?"],
                     ["Anna Smirnova: Hi! Could you tell me the price of the Sencha, 100 g?"])
    reply = ("Hi Anna,\n\n"
             "the Sencha is 12 € per 100 g pack, and it is in stock.\n"
             "Shall I put two packs aside for you?\n\n"
             "Best,\n"
             "John")
    sig = ["-- ", "John Carter", "Green Leaf Tea, Moscow", "+7 495 123-45-67"]
    text = join(reply, "", sig, "", "On 11/25/26 15:04, Switchboard wrote:", quote(n.text_lines()), "")
    headers = [
        ("Message-ID", "{{MESSAGE_ID}}"),
        ("Date", "Wed, 25 Nov 2026 15:40:55 +0300"),
        ("MIME-Version", "1.0"),
        ("User-Agent", "Mozilla Thunderbird"),
        ("Subject", "Re: " + subject_en_member()),
        ("To", "Switchboard <{{REPLY_TO}}>"),
        ("References", "{{IN_REPLY_TO}}"),
        ("Content-Language", "en-US"),
        ("From", "John Carter <{{FROM}}>"),
        ("In-Reply-To", "{{IN_REPLY_TO}}"),
    ]
    body = Part("text/plain; charset=UTF-8; format=flowed", "utf-8", "8bit", text)
    return dict(
        name="thunderbird-en", raw=message(headers, body), expected=reply, parts=body.texts(),
        what="Thunderbird, English, plain text: UTF-8 8bit, format=flowed (no line long enough to "
             "flow). The reply is followed by an RFC 3676 signature (\"-- \" line) which must go, "
             "then \"On 11/25/26 15:04, Switchboard wrote:\" and the \"> \" quote of our text part.",
        sender="operator")


@case
def thunderbird_en_flowed():
    n = Notification("en", ["Your order #1187 is packed. Would you like courier delivery or pick-up from our shop?"],
                     ["Anna Smirnova: Please send me two packs of the Sencha.",
                      "John Carter: Your order #1187 is packed. Would you like courier delivery or pick-up from our shop?"])
    para = ("Courier delivery, please. I am at home on weekdays after 7 pm and on Saturday the whole "
            "day, so any of those times would work for me. The address is the same as in my previous order.")
    reply = para + "\n\nThanks,\nAnna"

    def flow(line, width=72):
        # RFC 3676: soft line breaks after a space; the space stays at the end of the line.
        words, lines, cur = line.split(" "), [], ""
        for w in words:
            if cur and len(cur) + len(w) + 1 > width:
                lines.append(cur + " ")
                cur = w
            else:
                cur = f"{cur} {w}" if cur else w
        return lines + [cur]

    quoted = []
    for l in n.text_lines():
        quoted += [">" + (" " + x if x else "") for x in (flow(l, 70) if l else [""])]
    text = join(flow(para), "", "Thanks,", "Anna", "", "On 11/25/26 15:04, Switchboard wrote:", quoted, "")
    headers = [
        ("Message-ID", "{{MESSAGE_ID}}"),
        ("Date", "Wed, 25 Nov 2026 15:52:18 +0300"),
        ("MIME-Version", "1.0"),
        ("User-Agent", "Mozilla Thunderbird"),
        ("Subject", SUBJ_EN_VISITOR),
        ("To", "{{REPLY_TO}}"),
        ("References", "{{IN_REPLY_TO}}"),
        ("Content-Language", "en-GB"),
        ("From", "Anna Smirnova <{{FROM}}>"),
        ("In-Reply-To", "{{IN_REPLY_TO}}"),
    ]
    body = Part("text/plain; charset=UTF-8; format=flowed", "utf-8", "8bit", text)
    return dict(
        name="thunderbird-en-flowed", raw=message(headers, body), expected=reply, parts=body.texts(),
        what="(extra) Thunderbird, English, format=flowed with a paragraph longer than 72 characters: "
             "it is sent as three lines ending in a space (RFC 3676 soft breaks); the expected text "
             "is the paragraph as typed, one line. Also a quoted line that was flowed.",
        sender="visitor")


@case
def thunderbird_ru_koi8r():
    # KOI8-R has no em dash: the quoted header uses "-".
    n = Notification("ru", ["Ваш заказ 1187 отправлен сегодня, трек-номер RU123456789CN."],
                     ["Анна Смирнова: Когда отправите заказ?",
                      "Мария Иванова: Ваш заказ 1187 отправлен сегодня, трек-номер RU123456789CN."], dash="-")
    reply = ("Добрый день, Мария!\n\n"
             "Спасибо, трек-номер работает.\n"
             "Подскажите, а сколько обычно идёт посылка до Казани?")
    sig = ["-- ", "Анна Смирнова"]
    text = join(reply, "", sig, "", "25.11.2026 15:04, Switchboard пишет:", quote(n.text_lines()), "")
    headers = [
        ("Subject", "Re: " + ew_b(SUBJ_RU_VISITOR[4:], "KOI8-R")),
        ("To", "Switchboard <{{REPLY_TO}}>"),
        ("References", "{{IN_REPLY_TO}}"),
        ("From", ew_b("Анна Смирнова", "KOI8-R") + " <{{FROM}}>"),
        ("Message-ID", "{{MESSAGE_ID}}"),
        ("Date", "Wed, 25 Nov 2026 16:02:44 +0300"),
        ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:52.0) Gecko/20100101\r\n Thunderbird/52.9.1"),
        ("MIME-Version", "1.0"),
        ("In-Reply-To", "{{IN_REPLY_TO}}"),
        ("Content-Language", "ru"),
    ]
    body = Part("text/plain; charset=KOI8-R; format=flowed", "koi8-r", "8bit", text)
    return dict(
        name="thunderbird-ru-koi8r", raw=message(headers, body), expected=reply, parts=body.texts(),
        what="Thunderbird 52, Russian, plain text in KOI8-R, 8bit, format=flowed. \"-- \" signature, "
             "then \"25.11.2026 15:04, Switchboard пишет:\" and the \"> \" quote. Subject and From name are "
             "KOI8-R B encoded-words (the Subject's \"Re: \" stays plain).",
        sender="visitor")


@case
def yandex_ru():
    n = Notification("ru", ["Заказ собран. Доставить курьером или заберёте сами?"],
                     ["Анна Смирнова: Оформила заказ на две пачки сенчи.",
                      "Мария Иванова: Заказ собран. Доставить курьером или заберёте сами?"])
    reply = ("Добрый день, Мария!\n\n"
             "Лучше курьером. А можно оплатить картой при получении?\n"
             "И ещё: курьер сможет приехать после 19:00?")
    div = lambda s: f"<div>{s}</div>"
    html = (div("Добрый день, Мария!") + div("&nbsp;")
            + div("Лучше курьером. А можно оплатить картой при получении?")
            + div("И ещё: курьер сможет приехать после 19:00?")
            + div("&nbsp;") + div("-- ") + div("С уважением,") + div("Анна Смирнова") + div("&nbsp;")
            + div("&nbsp;")
            + div(f"25.11.2026, 15:04, \"Switchboard\" &lt;{NOTIFY_FROM}&gt;:")
            + "<blockquote>" + n.html(address=False) + "</blockquote>")
    headers = [
        ("From", ew_b("Анна Смирнова", "utf-8") + " <{{FROM}}>"),
        ("To", "{{REPLY_TO}}"),
        *thread_headers()[1:],
        ("Subject", ew_b(SUBJ_RU_VISITOR, "utf-8")),
        ("MIME-Version", "1.0"),
        ("X-Mailer", "Yamail [ http://yandex.ru ] 5.0"),
        ("Date", "Wed, 25 Nov 2026 16:10:31 +0300"),
        ("Message-Id", "{{MESSAGE_ID}}"),
    ]
    body = Part("text/html; charset=utf-8", "utf-8", "base64", html)
    return dict(
        name="yandex-ru", raw=message(headers, body), expected=reply, parts=body.texts(),
        what="Yandex Mail (web): HTML only, no text/plain part, UTF-8 base64. One `<div>` per line, "
             "`<div>&nbsp;</div>` for empty lines, a \"-- \" signature block, then the attribution "
             "`25.11.2026, 15:04, \"Switchboard\" <notifications@...>:` and our HTML inside `<blockquote>`. "
             "Base64, so no placeholders in the body: the quoted copy lacks our reply-address line.",
        sender="visitor")


@case
def mailru_ru():
    n = Notification("ru", ["Можно оплатить картой при получении? И курьер сможет приехать после 19:00?"],
                     ["Анна Смирнова: Можно оплатить картой при получении? И курьер сможет приехать после 19:00?"])
    reply = ("Анна, здравствуйте!\n"
             "Да, оплатить можно картой при получении, курьер приедет после 19:00.\n"
             "Напишите, пожалуйста, точный адрес доставки.")
    attribution = f"Среда, 25 ноября 2026, 15:04 +03:00 от Switchboard <{NOTIFY_FROM}>:"
    text = join(reply, "", "", "--", "Отправлено из мобильной Почты Mail.ru", "", "", attribution,
                quote(n.rendered_lines(address=False), prefix=">"), "")
    html = ("<HTML><BODY><div>Анна, здравствуйте!</div>"
            "<div>Да, оплатить можно картой при получении, курьер приедет после 19:00.</div>"
            "<div>Напишите, пожалуйста, точный адрес доставки.</div><div>&nbsp;</div><div>&nbsp;</div>"
            '<div data-signature-widget="container"><div data-signature-widget="content"><div>--<br>'
            "Отправлено из мобильной Почты Mail.ru</div></div></div><div>&nbsp;</div><div>&nbsp;</div>"
            '<div class="mail-quote-collapse"><blockquote style="border-left:1px solid #0857A6; margin:10px; '
            f'padding:0 0 0 10px;">{attribution.replace("<", "&lt;").replace(">", "&gt;")}<br>&nbsp;'
            '<div id=""><div class="js-helper js-readmsg-msg"><div><div id="style_17640726630000000123_BODY">'
            + n.html(address=False) + "</div></div></div></div></blockquote></div></BODY></HTML>")
    headers = [
        ("From", ew_b("Мария Иванова", "UTF-8") + " <{{FROM}}>"),
        ("To", "{{REPLY_TO}}"),
        ("Subject", ew_b("Re: " + SUBJ_RU_MEMBER, "UTF-8")),
        ("MIME-Version", "1.0"),
        ("X-Mailer", "Mail.Ru Mailer 1.0"),
        ("Date", "Wed, 25 Nov 2026 16:18:02 +0300"),
        ("Reply-To", ew_b("Мария Иванова", "UTF-8") + " <{{FROM}}>"),
        *thread_headers(),
    ]
    body = Alternative("--ALT--5bF2a0c7E1d94B3688f1C02aD7e6b9F41764076682", [
        Part("text/plain; charset=utf-8", "utf-8", "base64", text),
        Part("text/html; charset=utf-8", "utf-8", "base64", html),
    ], quoted_boundary=True)
    return dict(
        name="mailru-ru", raw=message(headers, body), expected=reply, parts=body.texts(),
        what="Mail.ru (mobile app), Russian. multipart/alternative, both parts UTF-8 base64. The reply, "
             "then the signature \"--\" (no trailing space) / \"Отправлено из мобильной Почты Mail.ru\", then "
             "\"Среда, 25 ноября 2026, 15:04 +03:00 от Switchboard <notifications@...>:\" and \">\"-quoted "
             "lines with no space after \">\". Base64, so no placeholders in the body.",
        sender="operator")


@case
def plain_quoted():
    n = Notification("en", ["Your order #1187 was shipped today, the tracking number is RU123456789CN."],
                     ["Anna Smirnova: When will you ship my order?",
                      "John Carter: Your order #1187 was shipped today, the tracking number is RU123456789CN."])
    reply = ("Thanks, John.\n"
             "The tracking number works, the parcel is already in Kazan.\n\n"
             "Anna")
    text = join(reply, "", quote(n.text_lines()), "")
    headers = [
        ("Date", "Wed, 25 Nov 2026 17:05:09 +0300"),
        ("From", "Anna Smirnova <{{FROM}}>"),
        ("To", "{{REPLY_TO}}"),
        ("Subject", SUBJ_EN_VISITOR),
        *thread_headers(),
        ("MIME-Version", "1.0"),
        ("Content-Disposition", "inline"),
        ("User-Agent", "NeoMutt/20231103"),
    ]
    body = Part("text/plain; charset=utf-8", "utf-8", "8bit", text)
    return dict(
        name="plain-quoted", raw=message(headers, body), expected=reply, parts=body.texts(),
        what="NeoMutt with the attribution line turned off: the reply, then our text part quoted "
             "with \"> \" and no attribution line at all. UTF-8 8bit.",
        sender="visitor")


@case
def separator_only():
    n = Notification("en", ["Do you also have 250 g packs?"],
                     ["Anna Smirnova: Hello, is the green tea in stock?",
                      "John Carter: Yes, the Sencha is in stock: 100 g packs, 12 € each.",
                      "Anna Smirnova: Do you also have 250 g packs?"])
    reply = ("Yes, 250 g packs are available too, 27 € each.\n"
             "I've added one to your order.\n\n"
             "John")
    copy = n.text_lines()
    copy = copy[copy.index(SEP_EN):]
    text = join(reply, "", copy, "")
    headers = [
        ("Date", "Wed, 25 Nov 2026 17:12:40 +0300"),
        ("From", "John Carter <{{FROM}}>"),
        ("To", "{{REPLY_TO}}"),
        ("Subject", "Re: " + subject_en_member()),
        *thread_headers(),
        ("MIME-Version", "1.0"),
    ]
    body = Part("text/plain; charset=utf-8", "utf-8", "quoted-printable", text)
    return dict(
        name="separator-only", raw=message(headers, body), expected=reply, parts=body.texts(),
        what="A client that keeps the original unquoted and writes no attribution: our English "
             "separator line, then the history, nothing \">\"-quoted. Everything from the separator "
             "down goes. UTF-8 QP.",
        sender="operator")


@case
def separator_only_ru():
    n = Notification("ru", ["Подскажите, а пачки по 250 г бывают?"],
                     ["Анна Смирнова: Подскажите, а пачки по 250 г бывают?"])
    reply = ("Да, бывают, 1590 руб. за пачку.\n"
             "Добавить одну к вашему заказу?\n\n"
             "Мария")
    copy = n.text_lines()
    copy = copy[copy.index(SEP_RU):]
    text = join(reply, "", copy, "")
    headers = [
        ("Date", "Wed, 25 Nov 2026 17:20:13 +0300"),
        ("From", ew_b("Мария Иванова") + " <{{FROM}}>"),
        ("To", "{{REPLY_TO}}"),
        ("Subject", ew_b("Re: " + SUBJ_RU_MEMBER)),
        *thread_headers(),
        ("MIME-Version", "1.0"),
    ]
    body = Part("text/plain; charset=utf-8", "utf-8", "8bit", text)
    return dict(
        name="separator-only-ru", raw=message(headers, body), expected=reply, parts=body.texts(),
        what="(extra) The same with our Russian separator line, UTF-8 8bit.",
        sender="operator")


@case
def encoded_subject_and_name():
    n = Notification("ru", ["Посылка должна прийти к вам завтра. Напишите, пожалуйста, всё ли дошло в целости."],
                     ["Анна Смирнова: Когда придёт посылка?",
                      "Мария Иванова: Посылка должна прийти к вам завтра. Напишите, пожалуйста, всё ли дошло в целости."])
    reply = ("Мария, здравствуйте!\n\n"
             "Посылку получила, всё целое. Чай отличный, через месяц закажу ещё.\n"
             "Спасибо!")
    text = join(reply, "", "25.11.2026 15:04, Switchboard <{{REPLY_TO}}> написал:", "", quote(n.text_lines()), "")
    headers = [
        ("From", ew_b("Анна Смирнова", "UTF-8") + " <{{FROM}}>"),
        ("To", "{{REPLY_TO}}"),
        ("Subject", ew_q("Ответ: " + SUBJ_RU_VISITOR, "windows-1251")),
        ("Date", "Thu, 26 Nov 2026 10:03:27 +0300"),
        *thread_headers(),
        ("MIME-Version", "1.0"),
    ]
    body = Part("text/plain; charset=UTF-8", "utf-8", "quoted-printable", text)
    return dict(
        name="encoded-subject-and-name", raw=message(headers, body), expected=reply, parts=body.texts(),
        what="From display name as a UTF-8 B encoded-word, Subject as windows-1251 Q encoded-words "
             "(\"Ответ: Re: ваш диалог #42\"); body UTF-8 QP with a multi-line reply whose inner "
             "empty line must stay; attribution \"25.11.2026 15:04, Switchboard <reply+...> написал:\".",
        sender="visitor")


@case
def bottom_posted():
    n = Notification("en", ["Can I pay by card on delivery?"],
                     ["Anna Smirnova: Can I pay by card on delivery?"])
    reply = ("Yes, our couriers take cards, and cash too.\n"
             "See you on Friday!")
    sig = ["-- ", "John Carter", "Green Leaf Tea"]
    text = join("On Wed, Nov 25, 2026 at 15:04:11 +0300, Switchboard wrote:", quote(n.text_lines()), "",
                reply, "", sig, "")
    headers = [
        ("Date", "Wed, 25 Nov 2026 17:31:56 +0300"),
        ("From", "John Carter <{{FROM}}>"),
        ("To", "{{REPLY_TO}}"),
        ("Subject", "Re: " + subject_en_member()),
        *thread_headers(),
        ("MIME-Version", "1.0"),
        ("Content-Disposition", "inline"),
        ("User-Agent", "NeoMutt/20231103"),
    ]
    body = Part("text/plain; charset=us-ascii", "ascii", "7bit", text.replace("—", "-"))
    return dict(
        name="bottom-posted", raw=message(headers, body), expected=reply, parts=body.texts(),
        what="(extra) NeoMutt, bottom-posting: the attribution and the whole quote come first, the "
             "reply below it, then a \"-- \" signature. US-ASCII 7bit (so the quoted em dash is a hyphen). "
             "The reply is what is below the quote.",
        sender="operator")


README_HEAD = """# Reply-email corpus

Real-looking replies to Switchboard's conversation emails, one per mail client
style and charset. For each `NAME.eml` (raw RFC 5322, CRLF line ends),
`NAME.expected.txt` holds exactly the text the server must post to the chat:
the new reply only, trimmed, lines joined with `\\n`, no trailing newline.
Quoted history, attribution lines ("On … wrote:", "… написал(а):"), our
"reply above this line" separator and signatures are not part of it.

The files are generated: edit `generate.py` and run `python3 generate.py`
(standard library only). It writes every `.eml`, `.expected.txt` and this
README, then parses each message back with Python's `email` package and checks
that every body part decodes to exactly the text it was built from and that
the placeholders are intact. `*.eml` are marked `-text` in `.gitattributes`
so git keeps their CRLFs and 8-bit bytes.

## Placeholders

The Rust test replaces these in the raw bytes before feeding a message in:

| placeholder | where | value |
| --- | --- | --- |
| `{{FROM}}` | `From` (also `Reply-To` in mailru-ru, and Outlook's quoted "To:" line) | the sender's address; it must be the recipient the reply token was made for |
| `{{REPLY_TO}}` | `To`, quoted attribution lines and our quoted "Reply address:" line | `reply+<token>@<reply-domain>` |
| `{{MESSAGE_ID}}` | `Message-ID` | a message id with its angle brackets |
| `{{IN_REPLY_TO}}` | `In-Reply-To` and `References` | a message id with its angle brackets |

They appear only as plain ASCII in headers (never inside an encoded-word) and
in 7bit/8bit or quoted-printable parts (the generator never puts a QP soft
line break inside one, and wraps as if each were ~60 characters long, so QP
lines stay short after substitution). Base64 parts (yandex-ru, mailru-ru)
hold no placeholder and no `reply+…` address at all, because the server also
looks for the reply token in the body text: their quoted copy of our email
lacks the "Адрес для ответа" line, and their attribution names our sender
address `notifications@switchboard.localhost` (which is what real clients
quote anyway: the original's From, not its Reply-To).

The "sender" column says who writes the mail: `operator` (a reply to a
"New message from Anna Smirnova (#42)" notification, token `c42-u…`) or
`visitor` (a reply to "Re: your conversation #42", token `c42-v…`). Only the
text matters for extraction, so any token/sender pair that passes the sender
check will do.

The quoted copies follow our real emails (`crates/server/src/mail/notification.rs`):
the new messages, the separator, "Conversation #42 — Anna Smirnova", the
history lines, "Reply address: …" — either our text/plain part as is
(plain-text clients) or our HTML part as the client turns it into its own
text alternative (one paragraph per `<p>`; Gmail writes `*bold*`).

## Files

Cases marked *(extra)* go beyond the first list of client styles.

| file | sender | what it checks |
| --- | --- | --- |
"""


# --------------------------------------------------------------------------
# Writing and self-check
# --------------------------------------------------------------------------

def substitute(raw: bytes) -> bytes:
    for k, v in SAMPLE.items():
        raw = raw.replace(k.encode(), v.encode())
    return raw


def check(c):
    raw = c["raw"]
    name = c["name"]
    assert b"reply+" not in raw.lower(), f"{name}: a literal reply address"
    assert b"\n" not in raw.replace(b"\r\n", b""), f"{name}: a bare LF"
    # Every placeholder in the bytes must be one we know, unbroken.
    for ph in re.findall(rb"\{\{[^}]*\}\}", raw):
        assert ph.decode() in PLACEHOLDERS, f"{name}: {ph!r}"
    assert raw.count(b"{") == raw.count(b"}"), f"{name}: a broken placeholder"
    for word in re.findall(rb"=\?[^?\s]+\?[BbQq]\?[^?\s]*\?=", raw):
        assert b"{{" not in word, f"{name}: a placeholder inside an encoded-word"

    msg = email.message_from_bytes(substitute(raw), policy=email.policy.default)
    assert msg["From"].addresses[0].addr_spec == SAMPLE["{{FROM}}"], f"{name}: From"
    assert msg["Message-ID"] == SAMPLE["{{MESSAGE_ID}}"], f"{name}: Message-ID"
    assert msg["In-Reply-To"] == SAMPLE["{{IN_REPLY_TO}}"], f"{name}: In-Reply-To"
    assert SAMPLE["{{REPLY_TO}}"] in str(msg["To"]), f"{name}: To"
    assert re.match(r"(?i)(re|ответ):", str(msg["Subject"])), f"{name}: Subject {msg['Subject']!r}"

    # Each body part decodes to exactly the text it was made from.
    leaves = [p for p in msg.walk() if not p.is_multipart()]
    parts = c["parts"]
    assert len(leaves) == len(parts), f"{name}: {len(leaves)} parts"
    for leaf, part in zip(leaves, parts):
        want = substitute(part.text.encode()).decode()
        got = leaf.get_content().replace("\r\n", "\n")
        if got != want and got.rstrip("\n") != want.rstrip("\n"):
            raise AssertionError(f"{name}: {leaf.get_content_type()} decodes differently:\n{got!r}\n{want!r}")
        assert leaf["Content-Transfer-Encoding"].lower() == part.cte


def main():
    written = []
    for fn in CASES:
        c = fn()
        check(c)
        with open(os.path.join(HERE, c["name"] + ".eml"), "wb") as f:
            f.write(c["raw"])
        with open(os.path.join(HERE, c["name"] + ".expected.txt"), "w", encoding="utf-8", newline="\n") as f:
            f.write(c["expected"].strip())
        written.append(c)
    rows = "".join(f"| `{c['name']}.eml` | {c['sender']} | {c['what'].replace('|', '/')} |\n" for c in written)
    with open(os.path.join(HERE, "README.md"), "w", encoding="utf-8", newline="\n") as f:
        f.write(README_HEAD + rows)
    with open(os.path.join(HERE, ".gitattributes"), "w", newline="\n") as f:
        f.write("*.eml -text\n*.expected.txt -text\n")
    for c in written:
        print(f"{c['name']}.eml  ({c['sender']})")
    return written


if __name__ == "__main__":
    main()
    sys.exit(0)
