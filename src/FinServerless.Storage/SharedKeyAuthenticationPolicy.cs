using System.Globalization;
using System.Text;
using Azure.Core;
using Azure.Core.Pipeline;

namespace FinServerless.Storage;

/// <summary>
/// Signs each request with SharedKey. It runs per try, so every retry carries a fresh date and signature.
/// </summary>
internal sealed class SharedKeyAuthenticationPolicy(StorageSharedKeyCredential credential) : HttpPipelineSynchronousPolicy
{
    private static readonly string[] StandardHeaders =
    [
        "Content-Encoding", "Content-Language", "Content-Length", "Content-MD5", "Content-Type", "Date",
        "If-Modified-Since", "If-Match", "If-None-Match", "If-Unmodified-Since", "Range",
    ];

    public override void OnSendingRequest(HttpMessage message)
    {
        var request = message.Request;
        request.Headers.SetValue("x-ms-date", DateTimeOffset.UtcNow.ToString("r", CultureInfo.InvariantCulture));
        var signature = credential.Sign(BuildStringToSign(request, credential.AccountName));
        request.Headers.SetValue("Authorization", $"SharedKey {credential.AccountName}:{signature}");
    }

    internal static string BuildStringToSign(Request request, string accountName)
    {
        var sb = new StringBuilder(256);
        sb.Append(request.Method.Method).Append('\n');
        foreach (var name in StandardHeaders)
        {
            string? value;
            if (name == "Content-Length")
            {
                value = request.Content is not null && request.Content.TryComputeLength(out var length) && length > 0
                    ? length.ToString(CultureInfo.InvariantCulture)
                    : string.Empty;
            }
            else
            {
                request.Headers.TryGetValue(name, out value);
            }

            sb.Append(value ?? string.Empty).Append('\n');
        }

        var msHeaders = new List<KeyValuePair<string, string>>();
        foreach (var header in request.Headers)
        {
            if (header.Name.StartsWith("x-ms-", StringComparison.OrdinalIgnoreCase))
            {
                msHeaders.Add(new(header.Name.ToLowerInvariant(), header.Value.Trim()));
            }
        }

        msHeaders.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
        foreach (var (name, value) in msHeaders)
        {
            sb.Append(name).Append(':').Append(value).Append('\n');
        }

        var uri = request.Uri.ToUri();
        sb.Append('/').Append(accountName).Append(uri.AbsolutePath);
        var query = uri.Query;
        if (query.Length > 1)
        {
            var parameters = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
            foreach (var pair in query[1..].Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var eq = pair.IndexOf('=');
                var name = Uri.UnescapeDataString(eq < 0 ? pair : pair[..eq]).ToLowerInvariant();
                var value = eq < 0 ? string.Empty : Uri.UnescapeDataString(pair[(eq + 1)..]);
                if (!parameters.TryGetValue(name, out var values))
                {
                    parameters[name] = values = [];
                }

                values.Add(value);
            }

            foreach (var (name, values) in parameters)
            {
                values.Sort(StringComparer.Ordinal);
                sb.Append('\n').Append(name).Append(':').Append(string.Join(',', values));
            }
        }

        return sb.ToString();
    }
}
