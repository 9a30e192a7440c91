//! Init, services, agents, logging and security settings on a small system tree made here: each
//! setting is written in the form the real tools write it, and each expectation below would be
//! wrong if the reader ignored or misread that form.

use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;

use imagewise_facts::ImageKind;

use crate::support::inspect;

fn write(root: &Path, path: &str, text: &str) {
    let p = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn link(root: &Path, path: &str, target: &str) {
    let p = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    symlink(target, p).unwrap();
}

#[test]
fn systemd_services_agents_logging_and_security_settings() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    write(r, "/usr/lib/systemd/systemd", "\x7fELF");
    link(r, "/sbin/init", "/usr/lib/systemd/systemd");
    write(r, "/usr/lib/systemd/systemd-journald", "");
    link(
        r,
        "/etc/systemd/system/default.target",
        "/lib/systemd/system/multi-user.target",
    );
    link(
        r,
        "/etc/systemd/system/multi-user.target.wants/ssh.service",
        "/lib/systemd/system/ssh.service",
    );
    link(
        r,
        "/etc/systemd/system/multi-user.target.wants/qemu-guest-agent.service",
        "/lib/systemd/system/qemu-guest-agent.service",
    );
    link(
        r,
        "/etc/systemd/system/cloud-init.target.wants/cloud-init.service",
        "/lib/systemd/system/cloud-init.service",
    );
    link(
        r,
        "/etc/systemd/system/getty.target.wants/getty@tty1.service",
        "/lib/systemd/system/getty@.service",
    );
    link(r, "/etc/systemd/system/apt-daily.service", "/dev/null");
    write(r, "/etc/systemd/system.conf", "[Manager]\n");
    write(r, "/usr/bin/cloud-init", "#!/usr/bin/python3\n");
    write(r, "/etc/cloud/cloud.cfg", "users: [default]\n");
    write(r, "/usr/sbin/qemu-ga", "");
    write(
        r,
        "/etc/systemd/journald.conf",
        "[Journal]\n#Storage=auto\nStorage=volatile\n",
    );
    write(
        r,
        "/etc/systemd/journald.conf.d/50-persist.conf",
        "[Journal]\nStorage=persistent\nForwardToSyslog=no\n",
    );
    write(r, "/etc/rsyslog.conf", "*.* @@logs.example.com:514\n");
    write(r, "/etc/passwd", "root:x:0:0:root:/root:/bin/bash\nops:x:1000:1000::/home/ops:/bin/zsh\nguest:x:1001:1001::/home/guest:/bin/sh\nsvc:x:999:999::/:/usr/sbin/nologin\n");
    write(
        r,
        "/etc/shells",
        "# valid login shells\n/bin/sh\n/bin/bash\n",
    );
    write(r, "/etc/shadow", "root:$y$j9T$abc$def:19000:0:99999:7:::\nops:!:19000::::::\nguest::19000::::::\nsvc:*:19000::::::\n");
    write(r, "/etc/group", "root:x:0:\nsudo:x:27:ops,guest\n");
    // Debian's layout: the drop-in is included first, and the first value obtained wins.
    write(r, "/etc/ssh/sshd_config", "Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin no\n#PasswordAuthentication no\nMatch User backup\n  PasswordAuthentication no\n");
    write(
        r,
        "/etc/ssh/sshd_config.d/10-cloud.conf",
        "PermitRootLogin yes\n",
    );
    write(r, "/etc/sudoers", "root ALL=(ALL) ALL\n");
    write(r, "/etc/sudoers.d/README", "");
    write(r, "/etc/sudoers.d/ops", "ops ALL=(ALL) NOPASSWD: ALL\n");
    write(
        r,
        "/etc/selinux/config",
        "SELINUX=permissive\nSELINUXTYPE=targeted\n",
    );
    write(r, "/etc/crypto-policies/config", "FIPS\n");
    write(r, "/usr/bin/passwd", "");
    std::fs::set_permissions(
        r.join("usr/bin/passwd"),
        std::fs::Permissions::from_mode(0o4755),
    )
    .unwrap();
    write(r, "/srv/drop/open.txt", "");
    std::fs::set_permissions(
        r.join("srv/drop/open.txt"),
        std::fs::Permissions::from_mode(0o666),
    )
    .unwrap();
    std::fs::create_dir_all(r.join("tmp")).unwrap();
    std::fs::set_permissions(r.join("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();

    let f = inspect(r.to_str().unwrap());
    assert_eq!(f.init.system, "systemd");
    assert_eq!(f.init.default_target.as_deref(), Some("multi-user.target"));
    let enabled: Vec<(&str, &str)> = f
        .init
        .enabled
        .iter()
        .map(|e| (e.name.as_str(), e.by.as_str()))
        .collect();
    assert_eq!(
        enabled,
        [
            ("cloud-init.service", "cloud-init.target"),
            ("getty@tty1.service", "getty.target"),
            ("qemu-guest-agent.service", "multi-user.target"),
            ("ssh.service", "multi-user.target"),
        ]
    );
    assert_eq!(f.init.masked, ["apt-daily.service"]);
    assert_eq!(f.kind, ImageKind::System);

    let agents: Vec<(&str, bool)> = f
        .agents
        .iter()
        .map(|a| (a.name.as_str(), a.enabled))
        .collect();
    assert_eq!(agents, [("cloud-init", true), ("qemu-guest-agent", true)]);

    assert_eq!(
        f.logging.journald_storage.as_deref(),
        Some("persistent"),
        "the drop-in overrides"
    );
    assert_eq!(f.logging.journald_forward_to_syslog.as_deref(), Some("no"));
    assert!(f.logging.rsyslog && f.logging.rsyslog_remote);

    let s = &f.security;
    assert_eq!(s.root, "password");
    assert_eq!(s.empty_password, ["guest"]);
    assert_eq!(s.password_set, ["root"]);
    let logins: Vec<&str> = s
        .users
        .iter()
        .filter(|u| u.login_shell)
        .map(|u| u.name.as_str())
        .collect();
    assert_eq!(logins, ["root", "guest"], "zsh is not in /etc/shells");
    assert_eq!(s.groups[1].members, ["ops", "guest"]);
    let sshd = s.sshd.as_ref().unwrap();
    assert_eq!(
        sshd.permit_root_login, "yes",
        "the included file comes first"
    );
    assert_eq!(
        sshd.password_authentication, "yes",
        "commented and Match-only values do not count"
    );
    assert!(!sshd.explicit["PasswordAuthentication"]);
    assert_eq!(s.sudoers, ["/etc/sudoers", "/etc/sudoers.d/ops"]);
    assert_eq!(s.setuid, ["/usr/bin/passwd"]);
    assert_eq!(
        s.world_writable,
        ["/srv/drop/open.txt"],
        "sticky /tmp is not listed"
    );
    assert_eq!(s.selinux.as_deref(), Some("permissive"));
    assert!(s.fips);
}
