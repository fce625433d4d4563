import Workers

/// Answers with a greeting built from its props and the request.
struct Greeter: WorkerEntrypoint {
    func fetch(_ request: Request, context: WorkerContext<String>) async throws -> Response {
        Response(
            status: .ok, headerFields: [.contentType: "text/plain; charset=utf-8"],
            body: Body("hello from \(context.props): \(request.method) \(request.url)\n")
        )
    }
}

/// Reads the request body as it streams in and answers with what it counted; the body never
/// sits whole in memory.
struct UploadCounter: WorkerEntrypoint {
    func fetch(_ request: Request, context: WorkerContext<Void>) async throws -> Response {
        var bytes = 0, chunks = 0
        for try await chunk in request.body {
            bytes += chunk.readableBytes
            chunks += 1
        }
        return Response(body: Body("received \(bytes) bytes in \(chunks) chunks\n"))
    }
}

/// `GET /N` streams N bytes, produced chunk by chunk as the client reads them; `GET /N?chunked`
/// sends them without a length (chunked transfer encoding); `GET /N?eager` from a sequence that
/// never waits (the proxy must still not take it all in at once).
struct Download: WorkerEntrypoint {
    func fetch(_ request: Request, context: WorkerContext<Void>) async throws -> Response {
        let path = request.head.path ?? "/"
        let count = Int(path.dropFirst().prefix { $0 != "?" }) ?? 0
        let block = ByteBuffer(repeating: UInt8(ascii: "x"), count: 64 * 1024)
        var fields: HTTPFields = [.contentType: "application/octet-stream"]
        if !path.hasSuffix("?chunked") { fields[.contentLength] = String(count) }
        if path.hasSuffix("?eager") { return Response(headerFields: fields, body: Body(EagerBlocks(count: count, block: block))) }
        return Response(headerFields: fields, body: .stream { writer in
            var remaining = count
            while remaining > 0 {
                let size = min(remaining, block.readableBytes)
                try await writer.write(block.getSlice(at: 0, length: size) ?? block)
                remaining -= size
            }
        })
    }
}

/// `count` bytes in blocks, each ready at once: an `AsyncSequence` whose `next()` never suspends.
struct EagerBlocks: AsyncSequence, Sendable {
    let count: Int
    let block: ByteBuffer

    struct AsyncIterator: AsyncIteratorProtocol {
        var remaining: Int
        let block: ByteBuffer

        mutating func next() async -> ByteBuffer? {
            guard remaining > 0 else { return nil }
            let size = Swift.min(remaining, block.readableBytes)
            remaining -= size
            return block.getSlice(at: 0, length: size) ?? block
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(remaining: count, block: block)
    }
}

/// Calls the real destination itself (never intercepted) and adds a header to its answer.
struct Annotator: WorkerEntrypoint {
    func fetch(_ request: Request, context: WorkerContext<Void>) async throws -> Response {
        var response = try await context.fetch(request)
        if let name = HTTPField.Name("x-annotated-by") { response.headerFields[name] = "egress example" }
        return response
    }
}

/// Fails every request: the client gets a 502 that names the handler.
struct Failing: WorkerEntrypoint {
    struct Broken: Error, CustomStringConvertible {
        var description: String { "the example handler broke on purpose" }
    }

    func fetch(_ request: Request, context: WorkerContext<Void>) async throws -> Response {
        throw Broken()
    }
}

/// Never answers: the client gets a 502 once the handler's timeout passes.
struct Hanging: WorkerEntrypoint {
    func fetch(_ request: Request, context: WorkerContext<Void>) async throws -> Response {
        try await Task.sleep(for: .seconds(3600))
        return Response()
    }
}
