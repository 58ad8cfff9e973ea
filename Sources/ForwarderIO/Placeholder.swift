import AsyncHTTPClient
import Crypto
import Logging
