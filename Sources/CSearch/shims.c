// Intentionally empty: SwiftPM needs one source file per C target. All declarations are in include/.
