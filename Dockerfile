# The osccr worker and CLI. Build: docker build -t osccr .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/osccr ./starter \
 && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/osccr-worker ./worker

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/osccr /out/osccr-worker /usr/local/bin/
ENTRYPOINT ["/usr/local/bin/osccr-worker"]
