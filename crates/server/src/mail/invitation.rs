//! The invitation email (Settings → Administrators → Add): the login, a generated
//! password and a link to the personal cabinet, in the inviter's language.

use super::compose::html_escape;

pub struct Invitation<'a> {
    pub locale: &'a str,
    pub inviter_name: &'a str,
    pub login: &'a str,
    pub password: &'a str,
    pub cabinet_url: &'a str,
    pub role: &'a str,
}

pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

struct Words {
    subject: &'static str,
    greeting: &'static str,
    invited: &'static str,
    login: &'static str,
    password: &'static str,
    cabinet: &'static str,
    steps: &'static str,
    expiry: &'static str,
    role: &'static str,
}

const EN: Words = Words {
    subject: "You are invited to Switchboard",
    greeting: "Hello!",
    invited: "has invited you to answer customers in Switchboard.",
    login: "Login",
    password: "Password",
    cabinet: "Personal cabinet",
    steps: "Sign in to your personal cabinet, set your own password, and fill in your name and avatar so visitors see who they are talking to. There you will also find the desktop app.",
    expiry: "The password works for 7 days, until you set your own.",
    role: "Role",
};

const RU: Words = Words {
    subject: "Вас пригласили в Switchboard",
    greeting: "Здравствуйте!",
    invited: "приглашает вас отвечать клиентам в Switchboard.",
    login: "Логин",
    password: "Пароль",
    cabinet: "Личный кабинет",
    steps: "Войдите в личный кабинет, задайте свой пароль, заполните имя и аватар, чтобы посетители видели, кто им отвечает. Там же — ссылка на приложение для компьютера.",
    expiry: "Пароль действует 7 дней, пока вы не зададите свой.",
    role: "Роль",
};

pub fn render(inv: &Invitation) -> Rendered {
    let w = if inv.locale.starts_with("ru") {
        &RU
    } else {
        &EN
    };
    let inviter = if inv.inviter_name.trim().is_empty() {
        "Switchboard"
    } else {
        inv.inviter_name
    };
    let text = format!(
        "{greeting}\n\n{inviter} {invited}\n\n{login}: {email}\n{password}: {pw}\n{role}: {r}\n{cabinet}: {url}\n\n{steps}\n\n{expiry}\n",
        greeting = w.greeting,
        invited = w.invited,
        login = w.login,
        email = inv.login,
        password = w.password,
        pw = inv.password,
        role = w.role,
        r = inv.role,
        cabinet = w.cabinet,
        url = inv.cabinet_url,
        steps = w.steps,
        expiry = w.expiry,
    );
    let html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif;line-height:1.5\">\
         <p>{greeting}</p><p>{inviter} {invited}</p>\
         <table cellpadding=\"4\"><tr><td>{login}:</td><td><b>{email}</b></td></tr>\
         <tr><td>{password}:</td><td><code style=\"font-size:1.1em\">{pw}</code></td></tr>\
         <tr><td>{role}:</td><td>{r}</td></tr></table>\
         <p><a href=\"{url}\">{cabinet}</a></p><p>{steps}</p><p style=\"color:#666\">{expiry}</p>\
         </body></html>",
        greeting = w.greeting,
        inviter = html_escape(inviter),
        invited = w.invited,
        login = w.login,
        email = html_escape(inv.login),
        password = w.password,
        pw = html_escape(inv.password),
        role = w.role,
        r = inv.role,
        url = html_escape(inv.cabinet_url),
        cabinet = w.cabinet,
        steps = w.steps,
        expiry = w.expiry,
    );
    Rendered {
        subject: w.subject.to_string(),
        text,
        html,
    }
}
