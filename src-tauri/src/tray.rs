//! The tray icon: shows the unread count and the status (online / away / offline),
//! reopens the window, switches the status, quits.

use std::sync::Mutex;

use switchboard_core::ConnState;
use switchboard_protocol::Presence;
use tauri::image::Image;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager};

use crate::AppState;

const TRAY_ID: &str = "main";
const BASE_ICON: &[u8] = include_bytes!("../../icons/32x32.png");

#[derive(Clone, Copy)]
struct Status {
    unread: i64,
    presence: Presence,
    connected: bool,
}

static STATUS: Mutex<Status> = Mutex::new(Status {
    unread: 0,
    presence: Presence::Offline,
    connected: false,
});

fn russian() -> bool {
    std::env::var("LANG")
        .or_else(|_| std::env::var("LC_ALL"))
        .map(|l| l.starts_with("ru"))
        .unwrap_or(false)
}

fn t(en: &'static str, ru: &'static str) -> &'static str {
    if russian() {
        ru
    } else {
        en
    }
}

pub fn create(app: &AppHandle) -> tauri::Result<()> {
    let open = MenuItem::with_id(
        app,
        "open",
        t("Open Switchboard", "Открыть Switchboard"),
        true,
        None::<&str>,
    )?;
    let online = MenuItem::with_id(app, "online", t("Online", "В сети"), true, None::<&str>)?;
    let away = MenuItem::with_id(app, "away", t("Away", "Отошёл"), true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", t("Quit", "Выйти"), true, None::<&str>)?;
    let sep1 = PredefinedMenuItem::separator(app)?;
    let sep2 = PredefinedMenuItem::separator(app)?;
    let menu = Menu::with_items(app, &[&open, &sep1, &online, &away, &sep2, &quit])?;
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(render(*STATUS.lock().unwrap()))
        .tooltip("Switchboard")
        .menu(&menu)
        .show_menu_on_left_click(false)
        .on_menu_event(|app, event| match event.id.as_ref() {
            "open" => crate::show_main(app),
            "online" | "away" => {
                let p = if event.id.as_ref() == "online" {
                    Presence::Online
                } else {
                    Presence::Away
                };
                let core = app.state::<AppState>().core.clone();
                tauri::async_runtime::spawn(async move {
                    if let Ok(s) = core.session().await {
                        let _ = s.set_presence(p).await;
                    }
                });
            }
            "quit" => app.exit(0),
            _ => {}
        })
        .on_tray_icon_event(|tray, event| {
            if let TrayIconEvent::Click {
                button: MouseButton::Left,
                button_state: MouseButtonState::Up,
                ..
            } = event
            {
                crate::show_main(tray.app_handle());
            }
        })
        .build(app)?;
    Ok(())
}

fn update(app: &AppHandle, f: impl FnOnce(&mut Status)) {
    let st = {
        let mut s = STATUS.lock().unwrap();
        f(&mut s);
        *s
    };
    let Some(tray) = app.tray_by_id(TRAY_ID) else {
        return;
    };
    let status = if !st.connected {
        t("offline", "нет связи")
    } else {
        match st.presence {
            Presence::Online => t("online", "в сети"),
            Presence::Away => t("away", "отошёл"),
            Presence::Offline => t("offline", "не в сети"),
        }
    };
    let tip = if st.unread > 0 {
        format!(
            "Switchboard — {status} — {} {}",
            st.unread,
            t("unread", "непрочитанных")
        )
    } else {
        format!("Switchboard — {status}")
    };
    let _ = tray.set_icon(Some(render(st)));
    let _ = tray.set_tooltip(Some(&tip));
    // Linux app indicators show the title next to the icon: the count stays visible
    let _ = tray.set_title(if st.unread > 0 {
        Some(st.unread.to_string())
    } else {
        None
    });
}

pub fn set_unread(app: &AppHandle, total: i64) {
    update(app, |s| s.unread = total);
}

pub fn set_presence(app: &AppHandle, p: Presence) {
    update(app, |s| s.presence = p);
}

pub fn set_connection(app: &AppHandle, c: ConnState) {
    update(app, |s| s.connected = matches!(c, ConnState::Online));
}

/// The app icon with a status dot (bottom right) and an unread dot (top right).
fn render(st: Status) -> Image<'static> {
    let base = Image::from_bytes(BASE_ICON).expect("bundled tray icon");
    let (w, h) = (base.width(), base.height());
    let mut rgba = base.rgba().to_vec();
    let status_color = if !st.connected {
        [150, 150, 150]
    } else {
        match st.presence {
            Presence::Online => [40, 180, 80],
            Presence::Away => [235, 170, 20],
            Presence::Offline => [150, 150, 150],
        }
    };
    let r = (w.min(h) as f32) * 0.2;
    dot(
        &mut rgba,
        w,
        h,
        w as f32 - r - 1.0,
        h as f32 - r - 1.0,
        r,
        status_color,
    );
    if st.unread > 0 {
        dot(
            &mut rgba,
            w,
            h,
            w as f32 - r - 1.0,
            r + 1.0,
            r,
            [220, 40, 40],
        );
    }
    Image::new_owned(rgba, w, h)
}

fn dot(rgba: &mut [u8], w: u32, h: u32, cx: f32, cy: f32, r: f32, c: [u8; 3]) {
    for y in 0..h {
        for x in 0..w {
            let d = ((x as f32 + 0.5 - cx).powi(2) + (y as f32 + 0.5 - cy).powi(2)).sqrt();
            let i = ((y * w + x) * 4) as usize;
            if d <= r {
                rgba[i..i + 4].copy_from_slice(&[c[0], c[1], c[2], 255]);
            } else if d <= r + 1.0 {
                rgba[i..i + 4].copy_from_slice(&[255, 255, 255, 255]);
            }
        }
    }
}
