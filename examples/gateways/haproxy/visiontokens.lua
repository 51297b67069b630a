-- NOT TESTED (the nginx example is the tested one). HAProxy 2.6+ with Lua: every request is
-- shown to `visiontokens serve` (POST /v1/check) with core.httpclient, then forwarded with the
-- count headers, or answered with serve's refusal (already in the provider's error shape).
local HEADERS = {"x-image-tokens", "x-image-tokens-upper-bound", "x-output-image-tokens",
                 "x-output-image-tokens-upper-bound"}

local function first(headers, name)
  local values = headers[name]
  return values and values[0] or nil
end

core.register_action("visiontokens_check", {"http-req"}, function(txn)
  local body = txn.sf:req_body()  -- needs `option http-buffer-request` and a large tune.bufsize
  local headers = {["content-type"] = {txn.sf:req_hdr("content-type") or "application/json"}}
  local budget = txn.sf:req_hdr("x-visiontokens-max-image-tokens")
  if budget then headers["x-visiontokens-max-image-tokens"] = {budget} end
  local res = core.httpclient():post{
    url = "http://127.0.0.1:8000/v1/check" .. txn.sf:path(), body = body, headers = headers,
    timeout = 30000}
  if not res or not res.status or res.status == 0 then
    local reply = txn:reply{status = 503, headers = {["content-type"] = {"application/json"}},
      body = '{"error": {"message": "image-token check unavailable", "type": "server_error", "param": null, "code": null}}'}
    txn:done(reply)
    return
  end
  if res.status ~= 200 then
    local out = {["content-type"] = {"application/json"}}
    local retry = first(res.headers, "retry-after")
    if retry then out["retry-after"] = {retry} end
    txn:done(txn:reply{status = res.status, headers = out, body = res.body})
    return
  end
  for _, name in ipairs(HEADERS) do
    txn.http:req_del_header(name)  -- never the client's own value
    local value = first(res.headers, name)
    if value then txn.http:req_add_header(name, value) end
  end
end)
