/// The de-duplication key of one API response: a 64-bit hash of `message.id` and `requestId` (FNV-1a over both,
/// a 0xFF byte between them, which UTF-8 never holds, then MurmurHash3's 64-bit finaliser to spread the bits).
public enum ResponseHash {
    public static func of(id: [UInt8], requestId: [UInt8]) -> UInt64 {
        id.withUnsafeBytes { id in requestId.withUnsafeBytes { of(id: id, requestId: $0) } }
    }

    public static func of(id: UnsafeRawBufferPointer, requestId: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ byte: UInt8) {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        for byte in id { mix(byte) }
        mix(0xFF)
        for byte in requestId { mix(byte) }
        hash ^= hash >> 33
        hash &*= 0xff51_afd7_ed55_8ccd
        hash ^= hash >> 33
        hash &*= 0xc4ce_b9fe_1a85_ec53
        hash ^= hash >> 33
        return hash
    }
}
