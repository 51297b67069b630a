// nginx + njs in front of an LLM API: every request is first shown to `visiontokens serve`
// (POST /v1/check), then either forwarded untouched with its image-token counts in request
// headers, or answered with the refusal `serve` returned (429/413 over budget, 400 for a body
// the provider would refuse), already in the provider's error shape.
//
// Needs njs 0.7 or later (Debian: libnginx-mod-http-js). Tested by tests/test_nginx.py.

async function check(r) {
    const body = r.requestBuffer;
    if (body === undefined) {
        // the body went to a temporary file: it is larger than client_body_buffer_size
        refuse(r, 413, 'the request body is larger than this gateway reads');
        return;
    }
    let reply;
    try {
        // the provider path goes along: it tells the Images API's endpoints apart
        reply = await r.subrequest('/_visiontokens_check' + r.uri, {method: 'POST', body: body});
    } catch (e) {
        refuse(r, 503, 'the image-token check failed');
        return;
    }
    if (reply.status === 200) {
        r.variables.image_tokens = reply.headersOut['x-image-tokens'];
        r.variables.image_tokens_upper_bound = reply.headersOut['x-image-tokens-upper-bound'];
        r.variables.output_image_tokens = reply.headersOut['x-output-image-tokens'];
        r.variables.output_image_tokens_upper_bound =
            reply.headersOut['x-output-image-tokens-upper-bound'];
        r.internalRedirect('@provider');
        return;
    }
    const type = reply.headersOut['Content-Type'] || '';
    if (!type.startsWith('application/json')) {
        // not an answer from serve (it is down, or timed out): fail closed
        refuse(r, 503, 'the image-token check is unavailable');
        return;
    }
    r.headersOut['Content-Type'] = 'application/json';
    if (reply.headersOut['Retry-After']) {
        r.headersOut['Retry-After'] = reply.headersOut['Retry-After'];
    }
    r.return(reply.status, reply.responseText);
}

function refuse(r, status, message) {
    r.headersOut['Content-Type'] = 'application/json';
    r.return(status, JSON.stringify({error: {message: message, type: 'server_error',
                                             param: null, code: null}}));
}

export default {check};
