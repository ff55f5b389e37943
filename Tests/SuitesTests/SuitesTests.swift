import Testing
@testable import Suites
