import Testing
@testable import Machines
