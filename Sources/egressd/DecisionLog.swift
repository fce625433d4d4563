import Foundation
import Logging

/// The decision log of `egressd run` and `egressd container run`: swift-log's stream handler on
/// standard error, one line per connection and per request.
enum DecisionLog {
    /// Installs the handler. With `TZ` unset, glibc looks at `/etc/localtime` again for every
    /// timestamp (a `stat` per log line, about 2% of egressd's CPU under load); naming the file
    /// once makes it load the zone a single time. The zone shown does not change.
    static func bootstrap() {
        setenv("TZ", ":/etc/localtime", 0)
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
    }
}
