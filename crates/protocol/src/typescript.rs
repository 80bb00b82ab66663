//! TypeScript declarations of the Rust types, for the UI and the widget
//! (`scripts/gen-types.sh` writes them, `scripts/check-generated.sh` checks them).
//!
//! ts-rs derives each type's declaration (serde's `rename_all`, `tag`, `rename`,
//! `default` are honoured); [`Bundle`] gathers a set of types and everything
//! they refer to into one file, so a client imports them from one place.

use std::any::TypeId;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use ts_rs::{Config, TypeVisitor, TS};

/// How every generated file is made: 64-bit integers become `number` (ids,
/// counts and millisecond timestamps stay far below 2^53; JSON carries them as
/// numbers, not strings).
pub fn config() -> Config {
    Config::new().with_large_int("number")
}

/// One generated `.ts` file: the declarations of the types added and, transitively,
/// of every type they refer to, sorted by name.
pub struct Bundle {
    cfg: Config,
    seen: HashSet<TypeId>,
    decls: BTreeMap<String, String>,
}

impl Default for Bundle {
    fn default() -> Self {
        Bundle {
            cfg: config(),
            seen: HashSet::new(),
            decls: BTreeMap::new(),
        }
    }
}

impl Bundle {
    pub fn new() -> Bundle {
        Bundle::default()
    }

    /// Adds `T` and every type it refers to.
    pub fn add<T: TS + ?Sized + 'static>(&mut self) -> &mut Self {
        self.visit::<T>();
        self
    }

    /// Whether a type of this TypeScript name is declared here.
    pub fn declares(&self, name: &str) -> bool {
        self.decls.contains_key(name)
    }

    /// The TypeScript names declared, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.decls.keys().map(String::as_str)
    }

    /// The file: `header` (a comment saying where it comes from), then each
    /// declaration with its doc comment.
    pub fn render(&self, header: &str) -> String {
        let mut out = String::from(header);
        for decl in self.decls.values() {
            out.push('\n');
            for line in decl.lines() {
                out.push_str(line.trim_end());
                out.push('\n');
            }
        }
        out
    }
}

impl TypeVisitor for Bundle {
    fn visit<T: TS + ?Sized + 'static>(&mut self) {
        // primitives and containers have no declaration of their own; what they
        // contain is visited as the referring type's dependency
        if T::output_path().is_none() || !self.seen.insert(TypeId::of::<T>()) {
            return;
        }
        let name = T::ident(&self.cfg);
        let mut decl = T::docs().unwrap_or_default();
        decl.push_str("export ");
        decl.push_str(&T::decl(&self.cfg));
        if let Some(other) = self.decls.insert(name.clone(), decl.clone()) {
            assert_eq!(
                other, decl,
                "two different Rust types are both called {name} in TypeScript"
            );
        }
        T::visit_dependencies(self);
    }
}

/// The repository's root (generated files are written relative to it).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/protocol is two levels below the root")
        .to_path_buf()
}

/// Writes `contents` to `path` (relative to the repository root) when
/// `SWITCHBOARD_UPDATE_GENERATED=1` (scripts/gen-types.sh); otherwise fails when
/// the file on disk differs, so `cargo test` catches a Rust type changed
/// without regenerating.
pub fn write_or_check(path: &str, contents: &str) {
    let full = repo_root().join(path);
    if std::env::var("SWITCHBOARD_UPDATE_GENERATED").as_deref() == Ok("1") {
        if std::fs::read_to_string(&full).ok().as_deref() != Some(contents) {
            std::fs::create_dir_all(full.parent().expect("a file in a folder"))
                .expect("create the folder of a generated file");
            std::fs::write(&full, contents).expect("write a generated file");
        }
        return;
    }
    let on_disk = std::fs::read_to_string(&full).unwrap_or_default();
    assert!(
        on_disk == contents,
        "{path} is out of date with the Rust types: run scripts/gen-types.sh"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::*;

    const HEADER: &str =
        "// Generated from crates/protocol (Rust) by scripts/gen-types.sh: do not edit.\n\
        // The visitor side of API.md: what the widget sends and receives.\n";

    /// The widget's types: `widget/src/generated/types.ts`.
    #[test]
    fn export_bindings_widget() {
        let mut b = Bundle::new();
        b.add::<WidgetSessionRequest>()
            .add::<WidgetSession>()
            .add::<WidgetHistory>()
            .add::<NewMessage>()
            .add::<WidgetContact>()
            .add::<PageView>()
            .add::<StreamFrame>()
            .add::<ClientFrame>()
            .add::<ErrorBody>();
        write_or_check("widget/src/generated/types.ts", &b.render(HEADER));
    }

    #[test]
    fn bundle_follows_references_and_sorts() {
        let mut b = Bundle::new();
        b.add::<Conversation>();
        let names: Vec<_> = b.names().collect();
        assert_eq!(
            names,
            [
                "Attachment",
                "Author",
                "AuthorKind",
                "Channel",
                "Conversation",
                "ConversationStatus",
                "Message",
                "VisitorRef"
            ]
        );
        let out = b.render("");
        assert!(
            out.contains("export type Conversation = { id: number,"),
            "{out}"
        );
        assert!(out.contains("assignee_id: number | null,"), "{out}");
        assert!(out.contains("\"chat\" | \"email\""), "{out}");
    }
}
