//! Tell rustc where libftkit is, without any crate: ask the `pkg-config`
//! command line (ftkit.pc is installed by `cmake --install`), or take the
//! directory from FTKIT_LIB_DIR (e.g. a CMake build tree). The library name
//! itself comes from `#[link(name = "ftkit")]` in src/main.rs.
use std::env;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=FTKIT_LIB_DIR");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    let dirs: Vec<String> = match env::var("FTKIT_LIB_DIR") {
        Ok(dir) if !dir.is_empty() => vec![dir],
        _ => {
            let out = Command::new("pkg-config")
                .args(["--libs-only-L", "ftkit"])
                .output()
                .expect("cannot run pkg-config: install it, or set FTKIT_LIB_DIR");
            if !out.status.success() {
                panic!(
                    "pkg-config does not know ftkit ({}): set PKG_CONFIG_PATH to \
                     <prefix>/lib/pkgconfig, or FTKIT_LIB_DIR to the directory of libftkit.so",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
            String::from_utf8(out.stdout)
                .expect("pkg-config printed non-UTF-8")
                .split_whitespace()
                .filter_map(|f| f.strip_prefix("-L").map(str::to_owned))
                .collect()
        }
    };
    for dir in &dirs {
        println!("cargo:rustc-link-search=native={dir}");
        // Run from anywhere without LD_LIBRARY_PATH.
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
