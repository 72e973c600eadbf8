-- Test-only Prosody plugin: static s2s routes, so that the interop test can
-- point Prosody at a parleyd on a loopback port without DNS records.
--   parley_test_routes = { ["a.localhost"] = { "127.0.0.1", 40123 } }
-- It wraps net.resolvers.service (which mod_s2s looks up for every new
-- outgoing link) with a fixed target for the listed domains.
local service = require "net.resolvers.service";
local manual = require "net.resolvers.manual";

local routes = module:get_option("parley_test_routes", {});
local original_new = service.new;

service.new = function (hostname, service_name, protocol, extra)
	local route = routes[hostname];
	if route and service_name == "xmpp-server" then
		module:log("debug", "static route for %s: %s port %d", hostname, route[1], route[2]);
		return manual.new({ { protocol .. "4", route[1], route[2], extra } }, protocol, extra);
	end
	if route then
		-- No direct TLS (_xmpps-server) route: nothing to try.
		return manual.new({}, protocol, extra);
	end
	return original_new(hostname, service_name, protocol, extra);
end

function module.unload()
	service.new = original_new;
end
