import ExporterCore

#if canImport(Glibc)
import Glibc
#endif

// Prints claude-metrics-exporter(1), made from the same option table as --help: `man-page VERSION DATE`.
let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    print("usage: man-page VERSION DATE (such as: man-page 0.1.0 2026-12-02)")
    exit(64)
}
print(ExporterConfiguration.manPage(version: arguments[1], date: arguments[2]), terminator: "")
