//! The UI's generated TypeScript (issue 14, item 2), written by the test below
//! under `SWITCHBOARD_UPDATE_GENERATED=1` (scripts/gen-types.sh) and otherwise
//! checked against the files on disk:
//!
//! - `ui/src/lib/generated/types.ts`: ts-rs declarations of every type a command
//!   takes or returns, of the `core` event and of `UiError`;
//! - `ui/src/lib/generated/commands.ts`: one typed function per
//!   `#[tauri::command]` of commands.rs, read from its source with syn (names,
//!   argument names as Tauri expects them, return types), and one listener per
//!   event main.rs emits.
//!
//! Renaming a command, an argument or a field therefore changes these files, and
//! the UI's type check (`npm run check`) fails where the UI still uses the old name.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use switchboard_core::cache::MessageLog;
use switchboard_core::{
    Account, ConnState, CoreEvent, Filter, LocalPrefs, OutboxItem, SearchResults, SessionInfo,
    SoundChoice, UiError, Upload,
};
use switchboard_protocol::typescript::{write_or_check, Bundle};
use switchboard_protocol::{
    Conversation, ConversationStatus, DnsCheck, MailDns, Presence, Report, Role, User,
    VisitorProfile, WidgetSettings,
};
use syn::{FnArg, GenericArgument, Pat, PathArguments, ReturnType, Type};

use super::{AppInfo, ConversationList, Startup};

const COMMANDS_RS: &str = include_str!("../commands.rs");
const MAIN_RS: &str = include_str!("../main.rs");

/// The events main.rs emits to the UI: name, payload type, listener function.
const EVENTS: &[(&str, &str, &str)] = &[("core", "CoreEvent", "onCoreEvent")];

/// Arguments Tauri fills in itself; the UI does not send them.
const INJECTED: &[&str] = &["State", "AppHandle", "Window", "WebviewWindow", "Webview"];

/// Every type the UI receives or sends. A command using a type missing here
/// fails the test with its name.
fn ui_types() -> Bundle {
    let mut b = Bundle::new();
    b.add::<AppInfo>()
        .add::<Startup>()
        .add::<Account>()
        .add::<LocalPrefs>()
        .add::<SoundChoice>()
        .add::<SessionInfo>()
        .add::<ConversationList>()
        .add::<Filter>()
        .add::<ConnState>()
        .add::<Conversation>()
        .add::<ConversationStatus>()
        .add::<MessageLog>()
        .add::<OutboxItem>()
        .add::<Upload>()
        .add::<SearchResults>()
        .add::<Report>()
        .add::<VisitorProfile>()
        .add::<WidgetSettings>()
        .add::<User>()
        .add::<Role>()
        .add::<Presence>()
        .add::<MailDns>()
        .add::<DnsCheck>()
        .add::<CoreEvent>()
        .add::<UiError>();
    b
}

#[test]
fn export_bindings_ui() {
    let types = ui_types();
    let commands = commands(&types);
    check_registered(&commands);
    check_events(&types);

    write_or_check(
        "ui/src/lib/generated/types.ts",
        &types.render(
            "// Generated from crates/protocol, crates/core and src-tauri (Rust) by\n\
             // scripts/gen-types.sh: do not edit.\n",
        ),
    );
    write_or_check("ui/src/lib/generated/commands.ts", &render(&commands));
}

/// One `#[tauri::command]` as the UI calls it.
struct Command {
    name: String,
    docs: Vec<String>,
    /// (name the UI sends, TypeScript type)
    args: Vec<(String, String)>,
    /// The raw IPC body (`tauri::ipc::Request`) instead of JSON arguments.
    raw_body: bool,
    returns: String,
}

fn commands(types: &Bundle) -> Vec<Command> {
    let file = syn::parse_file(COMMANDS_RS).expect("commands.rs parses");
    let mut out = Vec::new();
    for item in file.items {
        let syn::Item::Fn(f) = item else { continue };
        let Some(attr) = f.attrs.iter().find(|a| is_command_attr(a.path())) else {
            continue;
        };
        let camel_case = match &attr.meta {
            syn::Meta::Path(_) => true,
            syn::Meta::List(list) => {
                let spec = list.tokens.to_string().replace(' ', "");
                match spec.as_str() {
                    "rename_all=\"snake_case\"" => false,
                    "rename_all=\"camelCase\"" => true,
                    other => panic!("{}: unsupported #[tauri::command({other})]", f.sig.ident),
                }
            }
            syn::Meta::NameValue(_) => panic!("{}: unexpected attribute form", f.sig.ident),
        };
        let name = f.sig.ident.to_string();
        let mut args = Vec::new();
        let mut raw_body = false;
        for input in &f.sig.inputs {
            let FnArg::Typed(arg) = input else {
                panic!("{name}: a command is a free function")
            };
            let Pat::Ident(ident) = &*arg.pat else {
                panic!("{name}: arguments must be plain names")
            };
            let last = last_segment(&arg.ty);
            if INJECTED.contains(&last.as_str()) {
                continue;
            }
            if last == "Request" {
                raw_body = true;
                continue;
            }
            let rust_name = ident.ident.to_string();
            let key = if camel_case {
                lower_camel(&rust_name)
            } else {
                rust_name
            };
            args.push((key, ts_type(&arg.ty, types, &name)));
        }
        assert!(
            !raw_body || args.is_empty(),
            "{name}: a command reading the raw body takes no other arguments"
        );
        let returns = match &f.sig.output {
            ReturnType::Default => "void".to_string(),
            ReturnType::Type(_, ty) => ts_type(ok_type(ty), types, &name),
        };
        out.push(Command {
            docs: doc_lines(&f.attrs),
            name,
            args,
            raw_body,
            returns,
        });
    }
    assert!(!out.is_empty(), "no #[tauri::command] found in commands.rs");
    out
}

fn is_command_attr(path: &syn::Path) -> bool {
    let segs: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    segs == ["tauri", "command"] || segs == ["command"]
}

fn doc_lines(attrs: &[syn::Attribute]) -> Vec<String> {
    attrs
        .iter()
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) if nv.path.is_ident("doc") => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value().trim().to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

fn last_segment(ty: &Type) -> String {
    match ty {
        Type::Path(p) => p
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default(),
        Type::Reference(r) => last_segment(&r.elem),
        _ => String::new(),
    }
}

/// `R<T>` and `Result<T, E>` → `T` (a failed command rejects with the `UiError`).
fn ok_type(ty: &Type) -> &Type {
    if let Type::Path(p) = ty {
        let seg = p.path.segments.last().expect("a type has a name");
        if seg.ident == "R" || seg.ident == "Result" {
            return generic_args(seg)
                .into_iter()
                .next()
                .expect("Result<T, _> has a T");
        }
    }
    ty
}

fn generic_args(seg: &syn::PathSegment) -> Vec<&Type> {
    match &seg.arguments {
        PathArguments::AngleBracketed(a) => a
            .args
            .iter()
            .filter_map(|g| match g {
                GenericArgument::Type(t) => Some(t),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The TypeScript of a type in a command's signature, as serde_json carries it.
fn ts_type(ty: &Type, types: &Bundle, command: &str) -> String {
    let unsupported = || -> ! {
        panic!(
            "{command}: no TypeScript for `{}` in a command signature",
            quote_type(ty)
        )
    };
    match ty {
        Type::Reference(r) => ts_type(&r.elem, types, command),
        Type::Tuple(t) if t.elems.is_empty() => "void".into(),
        Type::Path(p) => {
            let seg = p.path.segments.last().expect("a type has a name");
            let name = seg.ident.to_string();
            let args = generic_args(seg);
            match (name.as_str(), args.as_slice()) {
                ("String" | "str", []) => "string".into(),
                ("bool", []) => "boolean".into(),
                (
                    "i8" | "i16" | "i32" | "i64" | "isize" | "u8" | "u16" | "u32" | "u64" | "usize"
                    | "f32" | "f64",
                    [],
                ) => "number".into(),
                ("Option", [inner]) => format!("{} | null", ts_type(inner, types, command)),
                ("Vec", [inner]) => format!("Array<{}>", ts_type(inner, types, command)),
                (_, []) => {
                    assert!(
                        types.declares(&name),
                        "{command}: `{name}` is not among the generated UI types: \
                         add it to ui_types() in src-tauri/src/commands/bindings.rs"
                    );
                    name
                }
                _ => unsupported(),
            }
        }
        _ => unsupported(),
    }
}

fn quote_type(ty: &Type) -> String {
    ty.to_token_stream().to_string()
}

/// `allow_http` → `allowHttp`, as Tauri names command arguments by default.
fn lower_camel(snake: &str) -> String {
    let mut out = String::new();
    for (i, part) in snake.split('_').filter(|p| !p.is_empty()).enumerate() {
        if i == 0 {
            out.push_str(part);
        } else {
            let mut c = part.chars();
            if let Some(first) = c.next() {
                out.extend(first.to_uppercase());
                out.push_str(c.as_str());
            }
        }
    }
    out
}

/// Every command is registered in main.rs's `generate_handler!` and nothing else
/// is: a command missing there fails at run time with "command not found".
fn check_registered(commands: &[Command]) {
    let defined: BTreeSet<String> = commands.iter().map(|c| c.name.clone()).collect();
    let tokens: TokenStream = MAIN_RS.parse().expect("main.rs lexes");
    let mut registered = BTreeSet::new();
    find_macro_paths(tokens, "generate_handler", &mut registered);
    let unregistered: Vec<_> = defined.difference(&registered).collect();
    let unknown: Vec<_> = registered.difference(&defined).collect();
    assert!(
        unregistered.is_empty() && unknown.is_empty(),
        "commands.rs and main.rs's generate_handler! differ: not registered {unregistered:?}, \
         registered but not in commands.rs {unknown:?}"
    );
}

/// The event names main.rs emits are exactly those of [`EVENTS`], and their
/// payload types are generated.
fn check_events(types: &Bundle) {
    let tokens: TokenStream = MAIN_RS.parse().expect("main.rs lexes");
    let mut emitted = BTreeSet::new();
    find_emits(tokens, &mut emitted);
    let known: BTreeSet<String> = EVENTS.iter().map(|e| e.0.to_string()).collect();
    assert_eq!(
        emitted, known,
        "main.rs emits other events than EVENTS in src-tauri/src/commands/bindings.rs"
    );
    for (_, payload, _) in EVENTS {
        assert!(types.declares(payload), "{payload} is not generated");
    }
}

/// The last identifier of each comma-separated path inside `<mac>![...]`.
fn find_macro_paths(tokens: TokenStream, mac: &str, out: &mut BTreeSet<String>) {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    for (i, t) in trees.iter().enumerate() {
        match t {
            TokenTree::Ident(id) if *id == mac => {
                if let (Some(TokenTree::Punct(bang)), Some(TokenTree::Group(g))) =
                    (trees.get(i + 1), trees.get(i + 2))
                {
                    if bang.as_char() == '!' {
                        let mut last = None;
                        for t in g.stream() {
                            match t {
                                TokenTree::Ident(name) => last = Some(name.to_string()),
                                TokenTree::Punct(p) if p.as_char() == ',' => {
                                    out.extend(last.take());
                                }
                                _ => {}
                            }
                        }
                        out.extend(last);
                    }
                }
            }
            TokenTree::Group(g) => find_macro_paths(g.stream(), mac, out),
            _ => {}
        }
    }
}

/// The string literal names of every `.emit("name", …)` call.
fn find_emits(tokens: TokenStream, out: &mut BTreeSet<String>) {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    for (i, t) in trees.iter().enumerate() {
        match t {
            TokenTree::Ident(id) if *id == "emit" => {
                if let Some(TokenTree::Group(g)) = trees.get(i + 1) {
                    let first = g.stream().into_iter().next();
                    match first {
                        Some(TokenTree::Literal(l)) => {
                            let lit = syn::parse_str::<syn::LitStr>(&l.to_string())
                                .expect("an event name is a string literal");
                            out.insert(lit.value());
                        }
                        other => panic!("main.rs: emit with a non-literal event name: {other:?}"),
                    }
                }
            }
            TokenTree::Group(g) => find_emits(g.stream(), out),
            _ => {}
        }
    }
}

fn render(commands: &[Command]) -> String {
    let mut used = BTreeSet::new();
    for c in commands {
        for ty in c.args.iter().map(|a| &a.1).chain([&c.returns]) {
            collect_names(ty, &mut used);
        }
    }
    for (_, payload, _) in EVENTS {
        used.insert(payload.to_string());
    }
    let mut out = String::from(
        "// Generated from src-tauri/src/commands.rs and main.rs (Rust) by\n\
         // scripts/gen-types.sh: do not edit.\n\
         // One function per #[tauri::command]; a failed command rejects with a UiError.\n\
         import { invoke } from '@tauri-apps/api/core';\n\
         import { listen, type UnlistenFn } from '@tauri-apps/api/event';\n",
    );
    let names: Vec<&str> = used.iter().map(String::as_str).collect();
    let _ = writeln!(
        out,
        "import type {{ {} }} from './types';",
        names.join(", ")
    );
    for c in commands {
        out.push('\n');
        let mut docs = c.docs.clone();
        if !docs.is_empty() {
            docs.push(String::new());
        }
        docs.push(format!("`{}`", c.name));
        if let [line] = docs.as_slice() {
            let _ = writeln!(out, "/** {line} */");
        } else {
            out.push_str("/**\n");
            for d in &docs {
                let _ = writeln!(out, " *{}{d}", if d.is_empty() { "" } else { " " });
            }
            out.push_str(" */\n");
        }
        let fname = lower_camel(&c.name);
        if c.raw_body {
            let _ = writeln!(
                out,
                "export function {fname}(body: Uint8Array): Promise<{}> {{\n  return invoke('{}', body);\n}}",
                c.returns, c.name
            );
        } else if c.args.is_empty() {
            let _ = writeln!(
                out,
                "export function {fname}(): Promise<{}> {{\n  return invoke('{}');\n}}",
                c.returns, c.name
            );
        } else {
            let fields: Vec<String> = c.args.iter().map(|(k, t)| format!("{k}: {t}")).collect();
            let _ = writeln!(
                out,
                "export function {fname}(args: {{ {} }}): Promise<{}> {{\n  return invoke('{}', args);\n}}",
                fields.join("; "),
                c.returns,
                c.name
            );
        }
    }
    for (event, payload, listener) in EVENTS {
        let _ = write!(
            out,
            "\n/** The `{event}` event. */\n\
             export function {listener}(handler: (payload: {payload}) => void): Promise<UnlistenFn> {{\n  \
             return listen<{payload}>('{event}', (e) => handler(e.payload));\n}}\n"
        );
    }
    out
}

/// The declared type names in a TypeScript type written by [`ts_type`].
fn collect_names(ts: &str, out: &mut BTreeSet<String>) {
    for word in ts.split(|c: char| !c.is_alphanumeric() && c != '_') {
        if word.starts_with(|c: char| c.is_ascii_uppercase()) && word != "Array" {
            out.insert(word.to_string());
        }
    }
}

#[test]
fn camel_case_as_tauri() {
    assert_eq!(lower_camel("allow_http"), "allowHttp");
    assert_eq!(lower_camel("conversation_id"), "conversationId");
    assert_eq!(lower_camel("new"), "new");
}
