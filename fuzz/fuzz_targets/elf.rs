//! Fuzz the ELF reader `check` uses (whole and sparse reads) and the ld.so.cache parser: any
//! input gives a value or an error, never a panic or a runaway allocation.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = imagewise_compat::parse_elf(data, true);
    let _ = imagewise_compat::LdCache::parse(data);
    let mut c = std::io::Cursor::new(data.to_vec());
    if let Ok(b) = imagewise_compat::read_sparse(&mut c, data.len() as u64) {
        let _ = imagewise_compat::parse_elf(&b, true);
    }
});
