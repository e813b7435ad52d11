//! policy-controller's image globs: `*` matches within a path segment, `**` across segments,
//! the whole fully qualified name must match, and `*`/`*/*` mean Docker Hub.

use regex::Regex;

/// Compiles a glob exactly as policy-controller's `glob.Compile` does.
pub fn compile(glob: &str) -> Result<Regex, String> {
    let glob = match glob {
        "*/*" => "index.docker.io/*/*",
        "*" => "index.docker.io/library/*",
        g => g,
    };
    let valid = glob
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_:/*.".contains(c));
    if !valid || glob.is_empty() {
        return Err(format!("invalid glob {glob:?}"));
    }
    let re = glob
        .replace('.', r"\.")
        .replace("**", "#")
        .replace('*', "[^/]*")
        .replace('#', ".*");
    Regex::new(&format!("^{re}$")).map_err(|e| format!("invalid glob {glob:?}: {e}"))
}

/// `Match`: the fully qualified name, then (as policy-controller still does) the text as written.
pub fn matches(re: &Regex, image: &super::reference::ImageRef) -> bool {
    re.is_match(&image.glob_name()) || re.is_match(&image.original)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supply::reference::ImageRef;

    fn m(glob: &str, image: &str) -> bool {
        matches(&compile(glob).unwrap(), &ImageRef::parse(image).unwrap())
    }

    #[test]
    fn policy_controller_semantics() {
        assert!(m("*", "ubuntu"));
        assert!(!m("*", "myuser/myapp"));
        assert!(m("*/*", "myuser/myapp"));
        assert!(m("index.docker.io/library/ubuntu:*", "ubuntu:22.04"));
        assert!(
            m(
                "registry.example.com/team/*",
                "registry.example.com/team/app"
            ),
            "* spans the tag"
        );
        assert!(!m(
            "registry.example.com/*",
            "registry.example.com/team/app:1"
        ));
        assert!(m(
            "registry.example.com/**",
            "registry.example.com/team/app:1"
        ));
        assert!(m("127.0.0.1:*/**", "127.0.0.1:5000/x/y:1"));
        assert!(compile("bad glob!").is_err());
    }
}
