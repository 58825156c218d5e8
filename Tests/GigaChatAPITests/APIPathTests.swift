import GigaChatProtocol
import Testing

@testable import GigaChatAPI

@Suite struct APIPathTests {
    @Test func idsCannotEscapeTheirPathSegment() {
        #expect(APIPath.model("../balance") == "/models/..%2Fbalance")
        #expect(APIPath.model("GigaChat:2.0.28.2") == "/models/GigaChat:2.0.28.2")
        #expect(APIPath.fileContent("a b?c#d") == "/files/a%20b%3Fc%23d/content")
        #expect(APIPath.file("Файл") == "/files/%D0%A4%D0%B0%D0%B9%D0%BB")
    }

    @Test func theV2URLIsDerivedAsTheSDKDerivesIt() {
        var configuration = Configuration()
        #expect(configuration.v2ChatURL == "https://api.giga.chat/v2/chat/completions")
        configuration.baseURL = "https://gigachat.devices.sberbank.ru/api/v1/"
        #expect(configuration.v2ChatURL == "https://gigachat.devices.sberbank.ru/api/v2/chat/completions")
        configuration.baseURL = "https://127.0.0.1:8443/custom"
        #expect(configuration.v2ChatURL == "https://127.0.0.1:8443/custom/v2/chat/completions")
    }
}
