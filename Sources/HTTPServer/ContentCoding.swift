extension HTTPRequest {
    /// Whether the client takes a gzip-coded response (RFC 9110 §12.5.3): `gzip` or `x-gzip` with a weight
    /// above 0, or `*` above 0 when gzip is not named. An element with a malformed weight is ignored.
    public var acceptsGzip: Bool {
        guard let field = header("accept-encoding") else { return false }
        var gzip: Bool?
        var any: Bool?
        for element in field.split(separator: ",") {
            let parameters = element.split(separator: ";")
            guard let coding = parameters.first?.trimmingASCIISpaces().lowercased(), !coding.isEmpty else { continue }
            var weight = 1.0
            var valid = true
            for parameter in parameters.dropFirst() {
                let pair = parameter.trimmingASCIISpaces()
                guard pair.lowercased().hasPrefix("q=") else { continue }
                if let value = Double(pair.dropFirst(2)), value >= 0, value <= 1 {
                    weight = value
                } else {
                    valid = false
                }
            }
            guard valid else { continue }
            switch coding {
            case "gzip", "x-gzip": gzip = weight > 0
            case "*": any = weight > 0
            default: break
            }
        }
        return gzip ?? any ?? false
    }
}

extension HTTPResponse {
    /// This response gzip-coded when `request` accepts it and the body is worth it; the response always carries
    /// `Vary: Accept-Encoding`, since its body depends on that field (caches must not mix the two).
    public func compressed(for request: HTTPRequest, minimumBytes: Int = 256) -> HTTPResponse {
        var response = self
        response.headers.append(("Vary", "Accept-Encoding"))
        if request.acceptsGzip, body.count >= minimumBytes, let coded = Gzip.compress(body) {
            response.body = coded
            response.headers.append(("Content-Encoding", "gzip"))
        }
        return response
    }
}
