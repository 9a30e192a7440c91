//! Debian's cloud kernel package unpacked with `dpkg-deb -x`: version and config flags against
//! the package's own files.

use imagewise_facts::{ImageKind, KERNEL_HIGHLIGHTS};

use crate::support::{fixtures, inspect};

#[test]
fn kernel_version_and_config_flags_match_the_package_files() {
    let root = fixtures().join("kernel-rootfs");
    let modules: Vec<String> = std::fs::read_dir(root.join("lib/modules"))
        .or_else(|_| std::fs::read_dir(root.join("usr/lib/modules")))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(modules.len(), 1);
    let release = &modules[0];
    let config_text = std::fs::read_to_string(root.join(format!("boot/config-{release}"))).unwrap();
    let f = inspect(root.to_str().unwrap());
    assert_eq!(
        f.kernel.kernels.len(),
        1,
        "{:?}",
        f.kernel
            .kernels
            .iter()
            .map(|k| &k.version)
            .collect::<Vec<_>>()
    );
    let k = &f.kernel.kernels[0];
    assert_eq!(&k.version, release);
    assert_eq!(
        k.image.as_deref(),
        Some(&*format!("/boot/vmlinuz-{release}"))
    );
    assert_eq!(
        k.config_path.as_deref(),
        Some(&*format!("/boot/config-{release}"))
    );
    // Every line of the config, as the file says it.
    let mut lines = 0;
    for line in config_text.lines() {
        if let Some((name, value)) = line
            .split_once('=')
            .filter(|(n, _)| n.starts_with("CONFIG_"))
        {
            assert_eq!(
                k.config.get(name).map(String::as_str),
                Some(value.trim_matches('"')),
                "{name}"
            );
            lines += 1;
        } else if let Some(name) = line
            .strip_prefix("# ")
            .and_then(|l| l.strip_suffix(" is not set"))
        {
            assert_eq!(k.config.get(name).map(String::as_str), Some("n"), "{name}");
            lines += 1;
        }
    }
    assert_eq!(k.config.len(), lines);
    for flag in KERNEL_HIGHLIGHTS {
        let want = config_text
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{flag}=")))
            .unwrap_or("n");
        assert_eq!(k.highlights[flag], want, "{flag}");
    }
    // A Debian cloud kernel has these on: the check can fail if the reading is wrong.
    assert_eq!(k.highlights["CONFIG_CGROUPS"], "y");
    assert_eq!(k.highlights["CONFIG_BPF_SYSCALL"], "y");
    assert_eq!(f.kind, ImageKind::System);
    let arch = std::process::Command::new("dpkg")
        .arg("--print-architecture")
        .output()
        .unwrap();
    assert_eq!(
        f.arch.as_deref(),
        Some(String::from_utf8_lossy(&arch.stdout).trim()),
        "arch from the modules"
    );
}
