using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace FinServerless.Functions;

/// <summary>The app's JSON: camelCase, nulls omitted, case-insensitive reading; and its HTTP answers.</summary>
public static class AppJson
{
    /// <summary>The serializer settings of every response, queue message and durable payload of the app.</summary>
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>A JSON answer with <paramref name="status"/>.</summary>
    public static IActionResult Result(int status, object? body) => new ContentResult
    {
        StatusCode = status,
        ContentType = "application/json; charset=utf-8",
        Content = JsonSerializer.Serialize(body, Options),
    };

    /// <summary>The app's error answer: <c>{"error": {"code", "message"}}</c>.</summary>
    public static IActionResult Error(int status, string code, string message) => Result(status, ErrorBody(code, message));

    /// <summary>The body of every error answer of the app.</summary>
    public static object ErrorBody(string code, string message) => new { error = new { code, message } };
}

/// <summary>A request body over its limit (declared or actual).</summary>
public sealed class BodyTooLargeException(long size, long limit) : Exception($"The request body is {size.ToString("N0", CultureInfo.InvariantCulture)} bytes or more; the limit is {limit.ToString("N0", CultureInfo.InvariantCulture)}.")
{
    /// <summary>The declared size, or the bytes read when the limit was passed.</summary>
    public long Size { get; } = size;

    /// <summary>The limit.</summary>
    public long Limit { get; } = limit;
}

/// <summary>Reading request bodies within a limit.</summary>
public static class HttpInput
{
    /// <summary>The whole body, at most <paramref name="limit"/> bytes: a larger declared or actual body throws <see cref="BodyTooLargeException"/> without reading past the limit.</summary>
    public static async Task<byte[]> ReadBodyAsync(HttpRequest request, long limit, CancellationToken cancellationToken)
    {
        if (request.ContentLength is { } declared && declared > limit)
        {
            throw new BodyTooLargeException(declared, limit);
        }

        return await ReadBodyAsync(request.Body, limit, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A whole stream, at most <paramref name="limit"/> bytes (<see cref="BodyTooLargeException"/> beyond, without reading past the limit).</summary>
    public static async Task<byte[]> ReadBodyAsync(Stream body, long limit, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await body.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > limit)
            {
                throw new BodyTooLargeException(buffer.Length + read, limit);
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    /// <summary>The body as UTF-8 text, within <paramref name="limit"/> bytes.</summary>
    public static async Task<string> ReadTextAsync(HttpRequest request, long limit, CancellationToken cancellationToken) =>
        System.Text.Encoding.UTF8.GetString(await ReadBodyAsync(request, limit, cancellationToken).ConfigureAwait(false));
}
