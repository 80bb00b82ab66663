//! The server's modules depend on each other one way: domain, config and the
//! store at the bottom, then state and services, then the transports (routes,
//! the SMTP listener) and the binary on top. A cycle between top-level modules
//! (`crate::a` naming `crate::b` while `b`, through any path, names `a`) fails
//! this test, with the cycle in the message.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Graph = BTreeMap<String, BTreeSet<String>>;

/// Top-level module → the top-level modules its code names (`crate::x`),
/// test modules left out.
fn module_graph(src: &Path) -> Graph {
    let mut graph = Graph::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(src).unwrap();
            let first = relative.components().next().unwrap().as_os_str();
            let module = first.to_string_lossy().trim_end_matches(".rs").to_string();
            if module == "lib" || module == "main" {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            // Unit tests may reach anywhere.
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            let names = graph.entry(module.clone()).or_default();
            for (at, _) in code.match_indices("crate::") {
                let name: String = code[at + "crate::".len()..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() && name != module {
                    names.insert(name);
                }
            }
        }
    }
    graph
}

/// A cycle, if any: the modules along it, the first repeated at the end.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &Graph,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if graph.contains_key(next) {
                if let Some(cycle) = visit(next, graph, path, done) {
                    return Some(cycle);
                }
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|start| visit(start, graph, &mut Vec::new(), &mut done))
}

#[test]
fn the_server_modules_form_no_cycle() {
    let graph = module_graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(graph.len() > 10, "found the modules: {graph:?}");
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "the modules depend on each other in a circle: {}",
            cycle.join(" → ")
        );
    }
    // The layers the README describes, spot-checked.
    for (low, high) in [
        ("domain", "store"),
        ("config", "services"),
        ("store", "services"),
        ("services", "routes"),
        ("services", "smtp_in"),
    ] {
        assert!(
            !graph[low].contains(high),
            "{low} (lower) must not name {high} (higher)"
        );
    }
}

#[test]
fn the_check_finds_a_cycle_when_there_is_one() {
    let graph: Graph = [
        ("config", vec!["db"]),
        ("db", vec![]),
        ("services", vec!["config", "routes"]),
        ("routes", vec!["services"]),
    ]
    .into_iter()
    .map(|(m, deps)| (m.to_string(), deps.into_iter().map(String::from).collect()))
    .collect();
    let cycle = find_cycle(&graph).expect("a cycle");
    assert_eq!(cycle.first(), cycle.last());
    assert!(cycle.contains(&"routes".to_string()) && cycle.contains(&"services".to_string()));
    let mut acyclic = graph.clone();
    acyclic.get_mut("routes").unwrap().clear();
    assert_eq!(find_cycle(&acyclic), None);
}
