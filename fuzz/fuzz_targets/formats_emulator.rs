#![no_main]
//! Any text as the emulators' achievements.json, stats.txt, stats.json or
//! leaderboards.txt (the first byte picks which): never a panic, and what was
//! imported exports as the emulator's files and reads back unchanged.
use laurel_schema_formats::{ExportOptions, Format, ImportOptions, SourceFile, detect, export, import};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let format = match pick % 4 {
        0 => Format::EmulatorAchievementsJson,
        1 => Format::EmulatorStatsTxt,
        2 => Format::EmulatorStatsJson,
        _ => Format::EmulatorLeaderboardsTxt,
    };
    let _ = detect(format.usual_file_name(), text);
    let options = ImportOptions::default();
    let Ok(schema) = import(&[SourceFile { name: "in", format, text }], &options) else { return };
    if format == Format::EmulatorLeaderboardsTxt {
        // A name starting with U+FEFF cannot be written back: refused, never mangled.
        let Ok(boards) = export(&schema, format, &ExportOptions::new(1)) else { return };
        let back = import(&[SourceFile { name: "leaderboards.txt", format, text: &boards.text }], &options);
        assert_eq!(back.as_ref(), Ok(&schema), "{}", boards.text);
        return;
    }
    for stats in [Format::EmulatorStatsTxt, Format::EmulatorStatsJson] {
        let achievements = export(&schema, Format::EmulatorAchievementsJson, &ExportOptions::new(1)).expect("exports");
        // stats.txt cannot hold a name with `=` (or a leading U+FEFF): refused, never mangled.
        let Ok(stats_file) = export(&schema, stats, &ExportOptions::new(1)) else {
            assert_eq!(stats, Format::EmulatorStatsTxt);
            continue;
        };
        let files = [
            SourceFile { name: "achievements.json", format: Format::EmulatorAchievementsJson, text: &achievements.text },
            SourceFile { name: "stats", format: stats, text: &stats_file.text },
        ];
        let back = import(&files, &options);
        assert_eq!(back.as_ref(), Ok(&schema), "{stats}:\n{}\n{}", achievements.text, stats_file.text);
    }
});
