import Testing

@testable import Results
